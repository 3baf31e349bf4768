import type { Socket } from 'node:net';
import { AuthenticationError, ConnectionClosedError, ProtocolError, WeftError } from '../core/errors.js';
import { checkMilliseconds, checkNonNegativeInteger, checkPositiveInteger, expected } from '../core/validate.js';
import { encodeFrame, FrameDecoder, FrameType, type FrameHandler } from './frame.js';
import type { FramedLink } from './link.js';
import type { ChunkReader } from './reader.js';
import {
  authkeyBytes, clientHandshake, HANDSHAKE_MAX_BODY, reasonText, serverHandshake, type HandshakeIO, type PeerLimits,
} from './handshake.js';

/**
 * An authenticated, framed message channel over one socket: the base that RPC, the cluster and
 * the embedded broker share. It runs the authkey handshake, then delivers frames (type, id,
 * body) to one handler and sends frames, batched per tick. Frame types below 0x10 are its own:
 *
 *   PING      sent when this side has sent nothing for a heartbeat interval
 *   GOODBYE   an orderly close, with a UTF-8 reason
 *   FAULT     the sender saw a protocol violation (UTF-8 message) and is closing
 *
 * A peer silent for `heartbeatTimeout` is considered gone. Every way a connection ends (close,
 * peer close, socket error, heartbeat loss, protocol fault) goes through one place, #finish,
 * which reports exactly one error to `onClose`.
 */
export interface ConnectionOptions {
  /** Shared secret both sides prove they know (string: UTF-8). */
  authkey: string | Uint8Array;
  /** Largest frame body this side accepts, in bytes. @default 67108864 (64 MiB) */
  maxFrameSize?: number;
  /** Milliseconds the whole handshake may take. @default 5000 */
  handshakeTimeout?: number;
  /** Milliseconds of silence after which this side sends a PING; 0 turns heartbeats off. @default 5000 */
  heartbeatInterval?: number;
  /** Milliseconds without any frame from the peer after which the connection is closed. @default 3 × heartbeatInterval */
  heartbeatTimeout?: number;
  /** Servers: most calls in flight a client may have on this connection (announced in WELCOME). @default 1024 */
  maxInFlight?: number;
}

export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
const DEFAULT_HEARTBEAT_MS = 5000;
const DEFAULT_MAX_IN_FLIGHT = 1024;
/** Frames queued in one tick are copied into one write below this many bytes (fewer syscalls); above it they are corked. */
const COALESCE_LIMIT = 256 * 1024;
/** Unsent bytes above which this side stops reading from its peer (see #backpressure). */
const SEND_BUFFER_LIMIT = 4 * 1024 * 1024;

/** Validated connection options (checkConnectionOptions). */
export interface ConnectionSettings {
  key: Buffer;
  maxFrameSize: number;
  handshakeTimeout: number;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  maxInFlight: number;
}

export function checkConnectionOptions(options: unknown): ConnectionSettings {
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object with an authkey', options));
  const o = options as ConnectionOptions;
  const heartbeatInterval = o.heartbeatInterval === undefined ? DEFAULT_HEARTBEAT_MS : checkMilliseconds('heartbeatInterval', o.heartbeatInterval);
  return {
    key: authkeyBytes(o.authkey),
    maxFrameSize: o.maxFrameSize === undefined ? DEFAULT_MAX_FRAME_SIZE : checkFrameSize(o.maxFrameSize),
    handshakeTimeout: o.handshakeTimeout === undefined ? DEFAULT_HANDSHAKE_TIMEOUT_MS : checkPositiveInteger('handshakeTimeout', o.handshakeTimeout),
    heartbeatInterval,
    heartbeatTimeout: o.heartbeatTimeout === undefined ? 3 * heartbeatInterval : checkPositiveInteger('heartbeatTimeout', o.heartbeatTimeout),
    maxInFlight: o.maxInFlight === undefined ? DEFAULT_MAX_IN_FLIGHT : checkPositiveInteger('maxInFlight', o.maxInFlight),
  };
}

function checkFrameSize(value: unknown): number {
  checkNonNegativeInteger('maxFrameSize', value);
  const size = value as number;
  if (size < HANDSHAKE_MAX_BODY || size > 0xffff_fff0) {
    throw new RangeError(expected('maxFrameSize', `an integer from ${HANDSHAKE_MAX_BODY} to ${0xffff_fff0} bytes`, value));
  }
  return size;
}

type Phase = 'handshake' | 'open' | 'closed';

export class Connection implements FramedLink {
  readonly #socket: Socket;
  readonly #settings: ConnectionSettings;
  readonly #decoder: FrameDecoder;
  #phase: Phase = 'handshake';
  #handler: FrameHandler;
  #early: [number, number, Buffer][] = [];
  #out: Buffer[] = [];
  #outBytes = 0;
  #flushScheduled = false;
  /** True while a received chunk is being decoded: frames sent meanwhile leave together at its end. */
  #receiving = false;
  /**
   * A frame left by itself since the last chunk arrived or the last flush: the frames after it
   * are gathered until the next tick. An awaited call writes its frame at once and schedules
   * nothing, since its answer arrives as a new chunk, which clears this.
   */
  #wroteAlone = false;
  #paused = false;
  #handshakeStep: FrameHandler | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #heard = true;
  #spoke = false;
  #silentMs = 0;
  #closeError: Error | undefined;
  #closeListeners: ((error: Error) => void)[] = [];
  /** What the peer announced in the handshake. */
  peerLimits: PeerLimits = { maxFrameSize: 0, maxInFlight: 0 };

  private constructor(socket: Socket, settings: ConnectionSettings) {
    this.#socket = socket;
    this.#settings = settings;
    this.#decoder = new FrameDecoder(HANDSHAKE_MAX_BODY);
    // Frames that arrive after the handshake but before start() wait here, copied: a body is a
    // view of the bytes read, which may be a buffer the next read overwrites.
    this.#handler = (type, id, body) => this.#early.push([type, id, Buffer.from(body)]);
    socket.setNoDelay(true);
  }

  /** Runs the client side of the handshake on a connected socket; `reader` when it was made with one. */
  static client(socket: Socket, options: ConnectionOptions, reader?: ChunkReader): Promise<Connection> {
    return new Connection(socket, checkConnectionOptions(options)).#handshake('client', reader);
  }

  /**
   * Runs the server side of the handshake on an accepted socket; `reader` when it reads through
   * one. The listener owns the handshake's deadline (see handshake-budget.ts): this side sets no
   * timer and the promise settles when the handshake ends or the socket closes.
   */
  static server(socket: Socket, settings: ConnectionSettings, reader?: ChunkReader): Promise<Connection> {
    return new Connection(socket, settings).#handshake('server', reader);
  }

  get isOpen(): boolean {
    return this.#phase === 'open';
  }

  /** Why the connection closed, once it has. */
  get closeError(): Error | undefined {
    return this.#closeError;
  }

  get remoteAddress(): string {
    return `${this.#socket.remoteAddress ?? '?'}:${this.#socket.remotePort ?? '?'}`;
  }

  /** This side's own limits. */
  get limits(): PeerLimits {
    return { maxFrameSize: this.#settings.maxFrameSize, maxInFlight: this.#settings.maxInFlight };
  }

  /** Starts delivering frames (types 0x10 and up) to `handler`, beginning with any that already arrived. */
  start(handler: FrameHandler): void {
    this.#handler = handler;
    const early = this.#early;
    this.#early = [];
    for (const [type, id, body] of early) {
      if (this.#phase !== 'open') return;
      handler(type, id, body);
    }
  }

  /** Calls `listener(error)` once when the connection closes, at once if it has. */
  onClose(listener: (error: Error) => void): void {
    if (this.#closeError) listener(this.#closeError);
    else this.#closeListeners.push(listener);
  }

  /**
   * Queues a complete frame. Frames sent while a received chunk is handled (a server's answers
   * to synchronous handlers) leave in one write when the chunk is done; otherwise the first
   * frame leaves at once (an awaited call pays no extra hop) and the frames that follow it
   * before the next chunk or tick are gathered and leave together in the next tick.
   */
  send(frame: Buffer): void {
    if (this.#phase === 'closed') throw this.#closeError ?? new ConnectionClosedError('the connection is closed');
    this.#spoke = true;
    if (this.#receiving || this.#wroteAlone || this.#out.length > 0) {
      this.#out.push(frame);
      this.#outBytes += frame.length;
      if (!this.#receiving && !this.#flushScheduled) {
        this.#flushScheduled = true;
        process.nextTick(this.#flush);
      }
    } else {
      this.#wroteAlone = true;
      if (!this.#socket.destroyed) this.#socket.write(frame);
    }
    if (this.#outBytes + this.#socket.writableLength >= SEND_BUFFER_LIMIT) this.#backpressure();
  }

  /** Says GOODBYE with `reason` and closes. Idempotent. */
  close(reason = 'closed by this side'): void {
    if (this.#phase === 'closed') return;
    this.#sendNow(FrameType.GOODBYE, Buffer.from(reason));
    this.#finish(new ConnectionClosedError(`the connection was closed: ${reason}`), true);
  }

  /** Resolves once the socket is fully closed. */
  whenClosed(): Promise<Error> {
    return new Promise((resolve) => this.onClose(resolve));
  }

  // ---- handshake ----------------------------------------------------------------------------

  #handshake(role: 'client' | 'server', reader?: ChunkReader): Promise<Connection> {
    const socket = this.#socket;
    const s = this.#settings;
    return new Promise<Connection>((resolve, reject) => {
      // Graceful, so that a REJECT or FAULT written just before reaches the peer.
      const fail = (error: Error) => {
        reject(error);
        this.#finish(error, true);
      };
      const timer = role === 'server' ? undefined : setTimeout(() => {
        const error = new AuthenticationError(`the server did not complete the handshake within ${s.handshakeTimeout} ms`);
        reject(error);
        this.#finish(error, false);
      }, s.handshakeTimeout);
      this.onClose((error) => {
        clearTimeout(timer);
        reject(error);
      });
      const done = (peer: PeerLimits) => {
        clearTimeout(timer);
        this.peerLimits = peer;
        this.#phase = 'open';
        this.#decoder.maxBodySize = s.maxFrameSize;
        this.#startHeartbeat();
        resolve(this);
      };
      const io: HandshakeIO = {
        send: (type, body) => this.#sendNow(type, body),
        fail,
        fault: (message) => this.#fault(message),
        done,
        peer: this.remoteAddress,
      };
      const machine = role === 'server' ? serverHandshake(s.key, this.limits, io) : clientHandshake(s.key, s.maxFrameSize, io);
      this.#handshakeStep = machine.step;
      if (!reader) socket.on('data', (chunk: Buffer) => this.#receive(chunk, chunk.length));
      socket.on('error', (error) => this.#finish(new ConnectionClosedError(`the connection failed: ${error.message}`, { cause: error }), false));
      socket.on('close', () => this.#finish(new ConnectionClosedError('the peer closed the connection'), false));
      machine.begin();
      reader?.listen((buffer, bytes) => this.#receive(buffer, bytes));
    });
  }

  // ---- receiving ----------------------------------------------------------------------------

  /** `end` bytes of `chunk` arrived; the chunk may be a lent read buffer (see reader.ts). */
  #receive(chunk: Buffer, end: number): void {
    this.#heard = true;
    this.#wroteAlone = false;
    this.#receiving = true;
    try {
      this.#decoder.push(chunk, this.#onDecoded, end);
    } catch (error) {
      this.#protocolFailure(error);
    } finally {
      this.#receiving = false;
    }
    if (this.#out.length > 0) this.#flush();
  }

  #onDecoded: FrameHandler = (type, id, body) => {
    if (this.#phase === 'handshake') {
      if (type === FrameType.GOODBYE || type === FrameType.FAULT) this.#dispatch(type, id, body);
      else this.#handshakeStep?.(type, id, body);
    } else if (this.#phase === 'open') this.#dispatch(type, id, body);
  };

  #protocolFailure(error: unknown): void {
    const protocolError = error instanceof ProtocolError ? error : new ProtocolError(`a frame handler failed: ${(error as Error).message}`, { cause: error });
    this.#finish(this.#fault(protocolError.message), true);
  }

  #dispatch(type: number, id: number, body: Buffer): void {
    if (type >= 0x10) return this.#handler(type, id, body);
    switch (type) {
      case FrameType.PING:
        return;
      case FrameType.GOODBYE:
        return this.#finish(new ConnectionClosedError(`the peer closed the connection: ${reasonText(body)}`), false);
      case FrameType.FAULT:
        return this.#finish(new ProtocolError(`the peer reported a protocol error: ${reasonText(body)}`), false);
      default:
        throw new ProtocolError(`unexpected frame type 0x${type.toString(16)} on an open connection`);
    }
  }

  /** Tells the peer what it did wrong (best effort) and returns the local error. */
  #fault(message: string): ProtocolError {
    this.#sendNow(FrameType.FAULT, Buffer.from(message));
    return new ProtocolError(message);
  }

  // ---- sending ------------------------------------------------------------------------------

  #sendNow(type: number, body: Buffer): void {
    if (this.#phase === 'closed' || this.#socket.destroyed) return;
    this.#flush();
    this.#socket.write(encodeFrame(type, 0, body));
  }

  #flush = (): void => {
    this.#flushScheduled = false;
    this.#wroteAlone = false;
    const out = this.#out;
    if (out.length === 0 || this.#socket.destroyed) return;
    this.#out = [];
    const bytes = this.#outBytes;
    this.#outBytes = 0;
    if (out.length === 1) this.#socket.write(out[0]!);
    else if (bytes <= COALESCE_LIMIT) this.#socket.write(Buffer.concat(out, bytes));
    else {
      this.#socket.cork();
      for (const frame of out) this.#socket.write(frame);
      this.#socket.uncork();
    }
  };

  /**
   * The peer reads slower than this side answers. Once SEND_BUFFER_LIMIT bytes wait unsent,
   * this side stops taking frames from the peer (the rest of the current chunk included) until
   * the socket drains, so a peer that sends calls and never reads the answers is throttled by
   * TCP instead of growing this process's memory.
   */
  #backpressure(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#decoder.hold();
    this.#socket.pause();
    const resume = () => {
      this.#paused = false;
      if (this.#phase !== 'open') return;
      this.#socket.resume();
      try {
        this.#decoder.release(this.#onDecoded);
      } catch (error) {
        this.#protocolFailure(error);
      }
    };
    // After the queued frames reach the socket (the flush runs first), wait for it to drain.
    process.nextTick(() => {
      if (this.#socket.writableNeedDrain) this.#socket.once('drain', resume);
      else resume();
    });
  }

  /** Bytes written to the socket that the kernel has not taken yet. */
  get bufferedBytes(): number {
    return this.#socket.writableLength;
  }

  // ---- liveness and closing -----------------------------------------------------------------

  #startHeartbeat(): void {
    const { heartbeatInterval: interval, heartbeatTimeout: timeout } = this.#settings;
    if (interval === 0) return;
    this.#heartbeat = setInterval(() => {
      if (this.#heard) this.#silentMs = 0;
      else if ((this.#silentMs += interval) >= timeout) {
        return this.#finish(new ConnectionClosedError(`the peer sent nothing for ${this.#silentMs} ms (heartbeat timeout ${timeout} ms)`), false);
      }
      this.#heard = false;
      if (!this.#spoke) this.#sendNow(FrameType.PING, Buffer.alloc(0));
      this.#spoke = false;
    }, interval);
    this.#heartbeat.unref();
  }

  #finish(error: Error, graceful: boolean): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    this.#closeError = error instanceof WeftError ? error : new ConnectionClosedError(error.message, { cause: error });
    this.#decoder.stop();
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (graceful) {
      this.#flush();
      this.#socket.end();
      // A peer that never reads must not keep the socket open forever.
      setTimeout(() => this.#socket.destroy(), this.#settings.handshakeTimeout).unref();
    } else {
      this.#socket.destroy();
    }
    const listeners = this.#closeListeners;
    this.#closeListeners = [];
    for (const listener of listeners) listener(this.#closeError);
  }
}
