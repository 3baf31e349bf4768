import { Socket, type OnReadOpts } from 'node:net';

/**
 * Reads a socket through net's `onread` option instead of 'data' events: the kernel copies into
 * one buffer kept for the connection, and each read is lent to the listener as that buffer and
 * a byte count, valid only until the listener returns (the next read overwrites it). A 'data'
 * event costs a fresh 64 KiB allocation, an ArrayBuffer and a pass through the Readable stream
 * machinery on every read, and a copy per read would cost a Buffer: both are a measurable part
 * of an awaited round trip (see `weft bench rpc`). Pausing and resuming the socket still work.
 *
 * net offers `onread` to connect() and to `new Socket()`, not to servers; readAccepted() moves
 * an accepted socket's handle into a new Socket made with it.
 */
const READ_BUFFER_SIZE = 64 * 1024;

/** Receives a read: `bytes` bytes at the start of `buffer`, which is only lent for the call. */
export type ReadListener = (buffer: Buffer, bytes: number) => void;

export class ChunkReader {
  #listener: ReadListener | undefined;
  /** Reads that arrived before listen(), copied, in order. */
  #early: Buffer[] = [];
  readonly #buffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);

  /** The `onread` option to create the socket with. */
  readonly onread: OnReadOpts = {
    buffer: this.#buffer,
    callback: (bytes: number): boolean => {
      if (this.#listener) this.#listener(this.#buffer, bytes);
      else this.#early.push(Buffer.from(this.#buffer.subarray(0, bytes)));
      return true; // false would stop reading; pause() is how the connection does that
    },
  };

  /** Sends every read, starting with those that came before, to `listener`. */
  listen(listener: ReadListener): void {
    this.#listener = listener;
    const early = this.#early;
    this.#early = [];
    for (const chunk of early) listener(chunk, chunk.length);
  }
}

/** The parts of libuv's TCP handle that net.Socket needs to adopt it with a user read buffer. */
interface AdoptableHandle {
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
}

function isAdoptable(handle: unknown): handle is AdoptableHandle {
  const h = handle as Partial<AdoptableHandle> | null;
  return typeof h === 'object' && h !== null
    && typeof h.readStart === 'function' && typeof h.readStop === 'function' && typeof h.useUserBuffer === 'function';
}

/**
 * A server's accepted socket, re-made to read through a ChunkReader. The server must have been
 * created with `pauseOnConnect` (so nothing was read yet). `_handle` is net's internal name for
 * the libuv handle, undocumented but unchanged since Node 0.x; where it is missing or different
 * this returns undefined and the caller keeps the socket as it is ('data' events: slower, same
 * behaviour). The accepted Socket is destroyed without its handle, which only tells the server
 * that this connection is gone from its count; weft tracks its connections itself.
 */
export function readAccepted(accepted: Socket): { socket: Socket; reader: ChunkReader } | undefined {
  const internal = accepted as unknown as { _handle: unknown };
  const handle = internal._handle;
  if (!isAdoptable(handle) || accepted.destroyed) return undefined;
  internal._handle = null;
  accepted.destroy();
  const reader = new ChunkReader();
  const socket = new Socket({ handle, onread: reader.onread, readable: true, writable: true } as ConstructorParameters<typeof Socket>[0]);
  return { socket, reader };
}
