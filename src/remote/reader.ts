import type { OnReadOpts } from 'node:net';

/**
 * Reads a client socket through net's `onread` option instead of 'data' events: the kernel
 * copies into one buffer kept for the connection, and each read is handed on as a copy the
 * size of what arrived. A 'data' event costs a fresh 64 KiB allocation, an ArrayBuffer and a
 * pass through the Readable stream machinery on every read, which is a measurable part of an
 * awaited round trip (see `weft bench rpc`). Pausing and resuming the socket still work.
 *
 * Only sockets weft dials can read this way: net offers `onread` to connect(), not to servers.
 */
const READ_BUFFER_SIZE = 64 * 1024;

export class ChunkReader {
  #onChunk: ((chunk: Buffer) => void) | undefined;
  /** Reads that arrived before listen(), in order. */
  #early: Buffer[] = [];

  /** The `onread` option to create the socket with. */
  readonly onread: OnReadOpts = {
    buffer: Buffer.allocUnsafeSlow(READ_BUFFER_SIZE),
    callback: (bytes: number, buffer: Uint8Array): boolean => {
      // A copy: the read buffer is overwritten by the next read, and frames may outlive this one.
      const chunk = Buffer.allocUnsafe(bytes);
      chunk.set(buffer.subarray(0, bytes));
      if (this.#onChunk) this.#onChunk(chunk);
      else this.#early.push(chunk);
      return true; // false would stop reading; pause() is how the connection does that
    },
  };

  /** Sends every read, starting with those that came before, to `onChunk`. */
  listen(onChunk: (chunk: Buffer) => void): void {
    this.#onChunk = onChunk;
    const early = this.#early;
    this.#early = [];
    for (const chunk of early) onChunk(chunk);
  }
}
