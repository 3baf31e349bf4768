/**
 * The ZeroMQ rows of `weft bench rpc`, both halves: weft RPC over zmq+tcp:// (a DEALER client,
 * a ROUTER server) and, as its floor, bare `zeromq` sockets carrying the same payload with no
 * framing, no encoding and no authentication:
 *
 *   bare zeromq REQ/REP          awaited only: a REQ socket cannot have two requests out
 *   bare zeromq DEALER/ROUTER    awaited and pipelined: a tick's calls leave as one message
 *                                (tick-batcher.ts, as weft's do); each echoed payload, counted
 *                                in bytes, answers the oldest call
 *
 * The peer side (zmqPeers) runs in rpc-peer.ts's child process beside the TCP servers. Both
 * halves skip themselves, with the reason, when the zeromq package cannot be loaded.
 */
import { Deque } from '../core/deque.js';
import { connect, serve } from '../remote/rpc.js';
import { loadZeromq } from '../remote/zmq/load.js';
import { BENCH_AUTHKEY, PAYLOAD, type Transport } from './rpc-shared.js';
import { TickBatcher } from './tick-batcher.js';

export interface ZmqPorts {
  weft: number;
  rep: number;
  router: number;
}

/** Outgoing messages bare sockets may queue: above any window the benchmark keeps in flight. */
const QUEUE_LIMIT = 100_000;

const portOf = (endpoint: string | null): number => Number(/:(\d+)$/.exec(endpoint ?? '')?.[1]);

/** The ZeroMQ servers, or why there are none. */
export async function zmqPeers(methods: Record<string, (...args: any[]) => unknown>): Promise<ZmqPorts | string> {
  let zmq: Awaited<ReturnType<typeof loadZeromq>>;
  try {
    zmq = await loadZeromq();
  } catch (error) {
    return (error as Error).message;
  }
  const weft = await serve({ transport: 'zmq', authkey: BENCH_AUTHKEY, expose: methods, maxInFlight: 4096 });
  const rep = new zmq.Reply();
  await rep.bind('tcp://127.0.0.1:*');
  void (async () => {
    for await (const [message] of rep) await rep.send(message!);
  })();
  const router = new zmq.Router({ sendHighWaterMark: QUEUE_LIMIT, receiveHighWaterMark: QUEUE_LIMIT });
  await router.bind('tcp://127.0.0.1:*');
  void (async () => {
    for await (const message of router) await router.send(message);
  })();
  return { weft: weft.port, rep: portOf(rep.lastEndpoint), router: portOf(router.lastEndpoint) };
}

export async function zmqTransports(ports: ZmqPorts): Promise<Transport[]> {
  const zmq = await loadZeromq();
  const message = Buffer.from(JSON.stringify(PAYLOAD));

  const remote = await connect<{ echo(value: typeof PAYLOAD): typeof PAYLOAD }>(`zmq+tcp://127.0.0.1:${ports.weft}`, { authkey: BENCH_AUTHKEY });
  const weft: Transport = { name: 'weft RPC over ZeroMQ', call: () => remote.echo(PAYLOAD), close: () => remote.close() };

  const req = new zmq.Request({ linger: 0 });
  req.connect(`tcp://127.0.0.1:${ports.rep}`);
  const reqRep: Transport = {
    name: 'bare zeromq REQ/REP',
    call: async () => {
      await req.send(message);
      return req.receive();
    },
    pipelines: false,
    close: async () => req.close(),
  };

  // sendTimeout 0: send() never waits, so a window of calls can start in one tick (zeromq
  // refuses a second send() while one waits); the queue limit keeps it from ever failing here.
  const dealer = new zmq.Dealer({ linger: 0, sendTimeout: 0, sendHighWaterMark: QUEUE_LIMIT, receiveHighWaterMark: QUEUE_LIMIT });
  dealer.connect(`tcp://127.0.0.1:${ports.router}`);
  const waiting = new Deque<{ resolve(): void; reject(error: unknown): void }>();
  let received = 0;
  void (async () => {
    try {
      for await (const [body] of dealer) {
        received += body!.length;
        while (received >= message.length && waiting.length > 0) {
          received -= message.length;
          waiting.shift()!.resolve();
        }
      }
    } catch {
      // closed
    }
  })();
  // A send that fails fails every call still waiting: none of their answers can come.
  const out = new TickBatcher<Buffer>((messages) => {
    dealer.send(messages.length === 1 ? messages[0]! : Buffer.concat(messages)).catch((error) => {
      while (waiting.length > 0) waiting.shift()!.reject(error);
    });
  });
  const dealerRouter: Transport = {
    name: 'bare zeromq DEALER/ROUTER',
    call: () => new Promise<void>((resolve, reject) => {
      waiting.push({ resolve, reject });
      out.push(message);
    }),
    close: async () => dealer.close(),
  };
  return [weft, reqRep, dealerRouter];
}
