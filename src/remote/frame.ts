import { ProtocolError } from '../core/errors.js';

/**
 * weft's wire framing (docs/protocol.md has the full description). Every frame is
 *
 *   0          4          5        6              10
 *   ┌──────────┬──────────┬────────┬──────────────┬───────────────────────┐
 *   │ length   │ version  │ type   │ id           │ body (length - 6)     │
 *   │ u32 BE   │ u8 (= 1) │ u8     │ u32 BE       │ bytes                 │
 *   └──────────┴──────────┴────────┴──────────────┴───────────────────────┘
 *
 * `length` counts the bytes after itself, so a frame with an empty body has length 6. The
 * decoder checks `length` against its limit before it allocates anything, and checks the
 * version of every frame. It never interprets bodies: that is the job of the layer above.
 */
export const PROTOCOL_VERSION = 1;
export const HEADER_SIZE = 10;
/** Header bytes after the length prefix: version, type, id. */
const HEADER_TAIL = HEADER_SIZE - 4;

/** Frame types. 0x00–0x0f belong to the connection, 0x10–0x1f to RPC, 0x20–0xff to applications (cluster, broker). */
export const FrameType = {
  HELLO: 0x01,
  AUTH: 0x02,
  WELCOME: 0x03,
  REJECT: 0x04,
  PING: 0x05,
  GOODBYE: 0x06,
  FAULT: 0x07,
  CALL: 0x10,
  GET: 0x11,
  RESULT: 0x12,
  ERROR: 0x13,
  YIELD: 0x14,
  PROGRESS: 0x15,
  CANCEL: 0x16,
  RELEASE: 0x17,
  DESCRIBE: 0x18,
} as const;
/** The first type an application layered on the connection may use. */
export const FIRST_APPLICATION_TYPE = 0x20;

export type FrameHandler = (type: number, id: number, body: Buffer) => void;

/** A frame with `body` copied after a fresh header. */
export function encodeFrame(type: number, id: number, body?: Uint8Array): Buffer {
  const size = body ? body.length : 0;
  const frame = Buffer.allocUnsafe(HEADER_SIZE + size);
  writeHeader(frame, type, id);
  if (body) frame.set(body, HEADER_SIZE);
  return frame;
}

/** Fills the first HEADER_SIZE bytes of `frame`, whose body follows them already. */
export function writeHeader(frame: Buffer, type: number, id: number): Buffer {
  frame.writeUInt32BE(frame.length - 4, 0);
  frame[4] = PROTOCOL_VERSION;
  frame[5] = type;
  frame.writeUInt32BE(id >>> 0, 6);
  return frame;
}

/**
 * Splits a byte stream into frames. Push socket chunks in; complete frames come out through
 * the handler, in order. A body that arrived in one chunk is handed out as a view of that chunk
 * (no copy), valid for the handler call only when the chunk is a reused read buffer; one split
 * across chunks is assembled in a buffer allocated once, at its checked size. Nothing of a
 * pushed chunk is kept after push() returns without being copied. Throws ProtocolError on a
 * bad length or version; after that the stream is unusable.
 */
export class FrameDecoder {
  #maxBody: number;
  #header = Buffer.alloc(HEADER_SIZE);
  #headerFilled = 0;
  /** The body being assembled across chunks, with its frame's type and id. */
  #body: Buffer | undefined;
  #bodyFilled = 0;
  #type = 0;
  #id = 0;
  #stopped = false;
  #holding = false;
  /** Bytes that arrived while holding. */
  #rest: Buffer | undefined;

  /** @param maxBodySize the largest body accepted, in bytes */
  constructor(maxBodySize: number) {
    this.#maxBody = maxBodySize;
  }

  /** Changes the body limit, for example once a handshake is over. */
  set maxBodySize(bytes: number) {
    this.#maxBody = bytes;
  }

  /** Stops emitting frames, including the rest of the chunk being pushed. */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * Stops emitting frames after the current one, keeping the rest of the chunk for release():
   * how a connection stops serving a peer that does not read its answers.
   */
  hold(): void {
    this.#holding = true;
  }

  /** Emits what hold() kept back, then carries on. */
  release(onFrame: FrameHandler): void {
    this.#holding = false;
    const rest = this.#rest;
    this.#rest = undefined;
    if (rest) this.push(rest, onFrame);
  }

  /** True when no partial frame is buffered. */
  get idle(): boolean {
    return this.#headerFilled === 0 && this.#body === undefined;
  }

  /** Decodes the first `end` bytes of `chunk` (all of it by default). */
  push(chunk: Buffer, onFrame: FrameHandler, end = chunk.length): void {
    if (this.#rest) {
      chunk = Buffer.concat([this.#rest, chunk.subarray(0, end)]);
      end = chunk.length;
    }
    this.#rest = undefined;
    let offset = 0;
    while (offset < end && !this.#stopped) {
      if (this.#holding) {
        this.#rest = Buffer.from(chunk.subarray(offset, end)); // a copy: the chunk may be lent
        return;
      }
      if (this.#body !== undefined) {
        offset = this.#fillBody(chunk, offset, end, onFrame);
      } else if (this.#headerFilled > 0 || end - offset < HEADER_SIZE) {
        offset = this.#fillHeader(chunk, offset, end, onFrame);
      } else {
        // Fast path: the whole header is in this chunk, and often the whole body too.
        const bodySize = this.#checkHeader(chunk, offset);
        const type = chunk[offset + 5]!;
        const id = chunk.readUInt32BE(offset + 6);
        const bodyStart = offset + HEADER_SIZE;
        if (end - bodyStart >= bodySize) {
          offset = bodyStart + bodySize;
          onFrame(type, id, chunk.subarray(bodyStart, offset));
        } else {
          this.#startBody(type, id, bodySize);
          offset = this.#fillBody(chunk, bodyStart, end, onFrame);
        }
      }
    }
  }

  #fillHeader(chunk: Buffer, offset: number, end: number, onFrame: FrameHandler): number {
    const n = Math.min(HEADER_SIZE - this.#headerFilled, end - offset);
    chunk.copy(this.#header, this.#headerFilled, offset, offset + n);
    const before = this.#headerFilled;
    this.#headerFilled += n;
    // The length is checked as soon as its four bytes are here, not when the header completes.
    if (before < 4 && this.#headerFilled >= 4) this.#checkLength(this.#header.readUInt32BE(0));
    if (this.#headerFilled < HEADER_SIZE) return offset + n;
    this.#headerFilled = 0;
    const bodySize = this.#checkHeader(this.#header, 0);
    this.#startBody(this.#header[5]!, this.#header.readUInt32BE(6), bodySize);
    if (bodySize === 0) this.#emitBody(onFrame);
    return offset + n;
  }

  #fillBody(chunk: Buffer, offset: number, end: number, onFrame: FrameHandler): number {
    const body = this.#body!;
    const n = Math.min(body.length - this.#bodyFilled, end - offset);
    chunk.copy(body, this.#bodyFilled, offset, offset + n);
    this.#bodyFilled += n;
    if (this.#bodyFilled === body.length) this.#emitBody(onFrame);
    return offset + n;
  }

  #startBody(type: number, id: number, size: number): void {
    this.#type = type;
    this.#id = id;
    this.#body = Buffer.allocUnsafe(size);
    this.#bodyFilled = 0;
  }

  #emitBody(onFrame: FrameHandler): void {
    const body = this.#body!;
    this.#body = undefined;
    onFrame(this.#type, this.#id, body);
  }

  /** Validates a complete header at `offset`; returns its body size. */
  #checkHeader(buf: Buffer, offset: number): number {
    const length = buf.readUInt32BE(offset);
    this.#checkLength(length);
    const version = buf[offset + 4]!;
    if (version !== PROTOCOL_VERSION) {
      this.#stopped = true;
      throw new ProtocolError(`unsupported protocol version ${version}: this peer speaks version ${PROTOCOL_VERSION}`);
    }
    return length - HEADER_TAIL;
  }

  #checkLength(length: number): void {
    if (length < HEADER_TAIL) {
      this.#stopped = true;
      throw new ProtocolError(`frame length ${length} is below the minimum of ${HEADER_TAIL} bytes`);
    }
    if (length - HEADER_TAIL > this.#maxBody) {
      this.#stopped = true;
      throw new ProtocolError(`frame body of ${length - HEADER_TAIL} bytes exceeds the limit of ${this.#maxBody} bytes`);
    }
  }
}
