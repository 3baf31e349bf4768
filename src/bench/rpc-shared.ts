/** What both halves of `weft bench rpc` agree on (rpc.ts drives, rpc-peer.ts serves; rpc-zmq.ts has the ZeroMQ rows). */

export const BENCH_AUTHKEY = 'weft-bench-rpc';

/** The small payload every transport carries. */
export const PAYLOAD = { id: 42, name: 'weft', tags: ['a', 'b'], score: 0.5 };

/** One kind of client of `weft bench rpc`. */
export interface Transport {
  name: string;
  /** One request; resolves with its answer. */
  call(): PromiseLike<unknown>;
  /** False when calls cannot overlap (REQ/REP): the transport has no pipelined run. @default true */
  pipelines?: boolean;
  close(): Promise<void>;
}
