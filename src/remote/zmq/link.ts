import { AuthenticationError, ConnectionClosedError, ProtocolError, WeftError } from '../../core/errors.js';
import type { ConnectionSettings } from '../connection.js';
import { encodeFrame, FrameDecoder, FrameType, HEADER_SIZE, type FrameHandler } from '../frame.js';
import { clientHandshake, HANDSHAKE_MAX_BODY, reasonText, serverHandshake, type HandshakeIO, type PeerLimits } from '../handshake.js';
import type { FramedLink } from '../link.js';
import { ReplyGate } from './gate.js';

/**
 * One weft session with one ZeroMQ peer: the FramedLink (../link.ts) RpcSession runs on, as
 * Connection is over TCP. The socket loop of the server (server.ts, a ROUTER) or the client
 * (dial.ts, a DEALER) hands it each message's parts; it hands whole messages back through its
 * outlet. Every part holds one or more whole weft frames, the same bytes as on TCP (protocol.md §10):
 *
 *   receive(parts) ──▶ FrameDecoder per part (length, version, body limit: 1 KiB until WELCOME)
 *        │               a part that ends inside a frame is a FAULT
 *        ▼
 *   HELLO (empty, from the client) ─▶ the handshake machines of handshake.ts ─▶ WELCOME ─▶ handler
 *
 *   send(frame) ──▶ #out ──▶ flushed at the end of the message being handled, or of the tick:
 *                   frames coalesced into parts of at most COALESCE_LIMIT bytes (and never more than
 *                   the peer's limit), one ZeroMQ message ──▶ outlet.send(parts)
 *                   (a REQ peer: its ReplyGate holds them until they make its one reply, gate.ts)
 *
 * Heartbeats, GOODBYE and FAULT are Connection's (connection.ts). A REQ peer cannot be sent a
 * PING; while it waits for its reply its silence does not count.
 */
export interface ZmqOutlet {
  /** Hands one message to ZeroMQ for the peer; a failure comes back through ZmqLink.lost(). */
  send(parts: Buffer[]): void;
  /** The link closed (after its last words were sent): forget the peer, or close the socket. */
  closed(): void;
  /** Where the peer is, for messages. */
  readonly address: string;
}

/** Frames of one flush are copied into one part up to this many bytes (fewer parts for ZeroMQ to carry). */
const COALESCE_LIMIT = 256 * 1024;
const PING_FRAME = encodeFrame(FrameType.PING, 0);

type Phase = 'handshake' | 'open' | 'closed';

export class ZmqLink implements FramedLink {
  readonly #role: 'client' | 'server';
  readonly #outlet: ZmqOutlet;
  readonly #settings: ConnectionSettings;
  readonly #gate: ReplyGate | undefined;
  readonly #decoder = new FrameDecoder(HANDSHAKE_MAX_BODY);
  #phase: Phase = 'handshake';
  #handler: FrameHandler;
  #early: [number, number, Buffer][] = [];
  #out: Buffer[] = [];
  #outBytes = 0;
  #flushScheduled = false;
  #receiving = false;
  #handshakeStep: FrameHandler | undefined;
  #begin: (() => void) | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #heard = true;
  #spoke = false;
  #silentMs = 0;
  #closeError: Error | undefined;
  #closeListeners: ((error: Error) => void)[] = [];
  peerLimits: PeerLimits = { maxFrameSize: 0, maxInFlight: 0 };

  /** @param gated the peer is a REQ socket: one reply per request (gate.ts) */
  constructor(role: 'client' | 'server', outlet: ZmqOutlet, settings: ConnectionSettings, gated = false) {
    this.#role = role;
    this.#outlet = outlet;
    this.#settings = settings;
    this.#gate = gated ? new ReplyGate() : undefined;
    // Parts are buffers of their own (nothing reuses them), so early frames keep their views.
    this.#handler = (type, id, body) => this.#early.push([type, id, body]);
  }

  get isOpen(): boolean {
    return this.#phase === 'open';
  }

  get closeError(): Error | undefined {
    return this.#closeError;
  }

  get remoteAddress(): string {
    return this.#outlet.address;
  }

  get limits(): PeerLimits {
    return { maxFrameSize: this.#settings.maxFrameSize, maxInFlight: this.#settings.maxInFlight };
  }

  /** True for a REQ peer. */
  get gated(): boolean {
    return this.#gate !== undefined;
  }

  start(handler: FrameHandler): void {
    this.#handler = handler;
    const early = this.#early;
    this.#early = [];
    for (const [type, id, body] of early) {
      if (this.#phase !== 'open') return;
      handler(type, id, body);
    }
  }

  onClose(listener: (error: Error) => void): void {
    if (this.#closeError) listener(this.#closeError);
    else this.#closeListeners.push(listener);
  }

  whenClosed(): Promise<Error> {
    return new Promise((resolve) => this.onClose(resolve));
  }

  send(frame: Buffer): void {
    if (this.#phase === 'closed') throw this.#closeError ?? new ConnectionClosedError('the connection is closed');
    this.#queue(frame);
  }

  close(reason = 'closed by this side'): void {
    if (this.#phase === 'closed') return;
    this.#queue(encodeFrame(FrameType.GOODBYE, 0, Buffer.from(reason)));
    this.#finish(new ConnectionClosedError(`the connection was closed: ${reason}`), true);
  }

  /** The transport gave up on the peer (ZeroMQ refused a message, or the peer disconnected). */
  lost(error: Error): void {
    this.#finish(error, false);
  }

  // ---- handshake ----------------------------------------------------------------------------

  /**
   * Runs this side's handshake; call it before the first receive(). The client opens with an
   * empty HELLO (over ZeroMQ the client speaks first) and owns its deadline; a server's deadline
   * is its handshake budget's, as for TCP.
   */
  handshake(): Promise<ZmqLink> {
    const s = this.#settings;
    return new Promise<ZmqLink>((resolve, reject) => {
      const fail = (error: Error) => {
        reject(error);
        this.#finish(error, true);
      };
      const timer = this.#role === 'server' ? undefined : setTimeout(() => {
        const error = new AuthenticationError(`the server did not complete the handshake within ${s.handshakeTimeout} ms`);
        reject(error);
        this.#finish(error, false);
      }, s.handshakeTimeout);
      this.onClose((error) => {
        clearTimeout(timer);
        reject(error);
      });
      const io: HandshakeIO = {
        send: (type, body) => this.#queue(encodeFrame(type, 0, body)),
        fail,
        fault: (message) => this.#fault(message),
        done: (peer) => {
          clearTimeout(timer);
          this.peerLimits = peer;
          this.#phase = 'open';
          this.#decoder.maxBodySize = s.maxFrameSize;
          this.#startHeartbeat();
          resolve(this);
        },
        peer: this.remoteAddress,
      };
      const machine = this.#role === 'server' ? serverHandshake(s.key, this.limits, io) : clientHandshake(s.key, s.maxFrameSize, io);
      this.#handshakeStep = machine.step;
      if (this.#role === 'server') this.#begin = machine.begin;
      else this.#queue(encodeFrame(FrameType.HELLO, 0));
    });
  }

  /** Server: the first frame of a peer must be an empty HELLO; the answer is HELLO with the nonce. */
  #opening(type: number, body: Buffer): void {
    if (type !== FrameType.HELLO || body.length !== 0) {
      throw new ProtocolError(`expected an empty HELLO frame to open a session, got type 0x${type.toString(16)} with ${body.length} bytes`);
    }
    const begin = this.#begin!;
    this.#begin = undefined;
    begin();
  }

  // ---- receiving ----------------------------------------------------------------------------

  /** One message from the peer, its envelope removed: each part whole weft frames. */
  receive(parts: Buffer[]): void {
    if (this.#phase === 'closed') return;
    this.#heard = true;
    this.#receiving = true;
    this.#gate?.request();
    try {
      for (const part of parts) {
        this.#decoder.push(part, this.#onDecoded);
        if (!this.#decoder.idle || part.length === 0) {
          throw new ProtocolError(`a message part of ${part.length} bytes is not whole weft frames (each part holds one or more complete frames)`);
        }
        if ((this.#phase as Phase) === 'closed') break;
      }
    } catch (error) {
      this.#protocolFailure(error);
    } finally {
      this.#receiving = false;
    }
    this.#flush();
  }

  #onDecoded: FrameHandler = (type, id, body) => {
    this.#gate?.heard(type, id);
    if (this.#phase === 'handshake') {
      if (type === FrameType.GOODBYE || type === FrameType.FAULT) this.#dispatch(type, id, body);
      else if (this.#begin) this.#opening(type, body);
      else this.#handshakeStep?.(type, id, body);
    } else if (this.#phase === 'open') this.#dispatch(type, id, body);
  };

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

  #protocolFailure(error: unknown): void {
    let message = error instanceof ProtocolError ? error.message : `a frame handler failed: ${(error as Error).message}`;
    // A peer that never got past its first frame is most likely not weft at all: say what this is.
    if (this.#role === 'server' && this.#begin) message = `not a weft peer: ${message}; this is a weft RPC server, see docs/protocol.md §10`;
    this.#finish(this.#fault(message), true);
  }

  #fault(message: string): ProtocolError {
    this.#queue(encodeFrame(FrameType.FAULT, 0, Buffer.from(message)));
    return new ProtocolError(message);
  }

  // ---- sending ------------------------------------------------------------------------------

  #queue(frame: Buffer): void {
    this.#spoke = true;
    this.#out.push(frame);
    this.#outBytes += frame.length;
    this.#gate?.queued(frame);
    if (!this.#receiving && !this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flush);
    }
  }

  #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#phase === 'closed') return;
    const gate = this.#gate;
    if (gate && !gate.mayReply(this.#outBytes)) return;
    const out = this.#out;
    if (out.length === 0 && !gate) return;
    this.#out = [];
    this.#outBytes = 0;
    this.#outlet.send(out.length === 0 ? [PING_FRAME] : this.#coalesce(out));
    gate?.replied();
  };

  /** Frames as parts: consecutive frames copied together up to the part limit, a larger one alone. */
  #coalesce(frames: Buffer[]): Buffer[] {
    if (frames.length === 1) return frames;
    const limit = Math.min(COALESCE_LIMIT, (this.peerLimits.maxFrameSize || HANDSHAKE_MAX_BODY) + HEADER_SIZE);
    const parts: Buffer[] = [];
    let group: Buffer[] = [];
    let bytes = 0;
    const close = () => {
      if (group.length > 0) parts.push(group.length === 1 ? group[0]! : Buffer.concat(group, bytes));
      group = [];
      bytes = 0;
    };
    for (const frame of frames) {
      if (bytes + frame.length > limit) close();
      group.push(frame);
      bytes += frame.length;
    }
    close();
    return parts;
  }

  // ---- liveness and closing -----------------------------------------------------------------

  #startHeartbeat(): void {
    const { heartbeatInterval: interval, heartbeatTimeout: timeout } = this.#settings;
    if (interval === 0) return;
    this.#heartbeat = setInterval(() => {
      if (this.#heard || this.#gate?.owesReply) this.#silentMs = 0;
      else if ((this.#silentMs += interval) >= timeout) {
        return this.#finish(new ConnectionClosedError(`the peer sent nothing for ${this.#silentMs} ms (heartbeat timeout ${timeout} ms)`), false);
      }
      this.#heard = false;
      if (!this.#spoke && !this.#gate) this.#queue(PING_FRAME);
      this.#spoke = false;
    }, interval);
    this.#heartbeat.unref();
  }

  /** Every way the link ends comes here once; `graceful` sends what is queued (a FAULT, GOODBYE or REJECT) first. */
  #finish(error: Error, graceful: boolean): void {
    if (this.#phase === 'closed') return;
    if (graceful) this.#flush();
    this.#phase = 'closed';
    this.#closeError = error instanceof WeftError ? error : new ConnectionClosedError(error.message, { cause: error });
    this.#decoder.stop();
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#out = [];
    this.#outlet.closed();
    const listeners = this.#closeListeners;
    this.#closeListeners = [];
    for (const listener of listeners) listener(this.#closeError);
  }
}
