import type { Router } from 'zeromq';
import { AuthenticationError, ConnectionClosedError, ProtocolError } from '../../core/errors.js';
import { encodeFrame, FrameType, HEADER_SIZE } from '../frame.js';
import { HandshakeBudget, PendingHandshake, type DropReason } from '../handshake-budget.js';
import { checkListenOptions, type ListenerStats, type ListenOptions } from '../listener.js';
import { RefusalLog, type RefusalReason } from '../refusals.js';
import { ZmqLink } from './link.js';
import { loadZeromq, tcpEndpoint } from './load.js';

/**
 * serve() over ZeroMQ: one ROUTER socket bound to tcp://HOST:PORT and one ZmqLink per peer,
 * the peer known by the envelope ZeroMQ puts before its messages.
 *
 *   ROUTER.receive() ──▶ [routing id, (… ''), part, …] ──▶ peer of that envelope
 *        │ new envelope: at maxConnections (or closing)? ── one GOODBYE, nothing kept ──▶ refusals
 *        │               else a ZmqLink, in the handshake budget (handshake-budget.ts)
 *        ▼
 *   link.receive(parts) ── garbage, wrong authkey, too slow ── FAULT / REJECT / GOODBYE ──▶ refusals
 *        │ WELCOME
 *        ▼
 *   open links (at most maxConnections) ──▶ onLink (an RpcSession)
 *
 *   link output ──▶ ROUTER.send([envelope…, parts…]): never waits (sendTimeout 0, mandatory), so
 *                   a peer that is gone or has not read its last HIGH_WATER_MARK messages is closed,
 *                   and costs no one else anything
 *
 * Envelopes: a DEALER peer's messages carry its routing id alone; a REQ peer's, the routing id
 * and an empty delimiter part (more parts before it when it comes through a proxy). Everything up
 * to the first empty part is the envelope; a REQ peer's link is gated (gate.ts). libzmq itself
 * refuses what is not ZMTP (a bad greeting, an incompatible socket type) and disconnects a peer
 * whose message part is above maxMessageSize (maxFrameSize + the frame header): such bytes never
 * reach this process's JavaScript.
 */

/** Messages queued to one peer before it counts as not reading (ZeroMQ's default). */
const HIGH_WATER_MARK = 1000;
/** Milliseconds ZeroMQ keeps trying to deliver the last GOODBYEs once the socket is closed. */
const LINGER_MS = 200;
/** Most milliseconds close() waits for libzmq to report its listener closed (it takes well under one). */
const RELEASE_WAIT_MS = 1000;
/** ROUTER peers carry no address ZeroMQ tells us: they share one entry of the handshake budget and of refusal reports. */
const PEER_ADDRESS = 'zmq peers';

class PendingPeer extends PendingHandshake<ZmqLink> {
  outcome: 'pending' | 'open' | RefusalReason = 'pending';
}

export class ZmqServer {
  readonly #socket: Router;
  readonly #options: ListenOptions;
  readonly #settings: ReturnType<typeof checkListenOptions>;
  readonly #onLink: (link: ZmqLink) => void;
  readonly #peers = new Map<string, ZmqLink>();
  readonly #open = new Set<ZmqLink>();
  readonly #budget: HandshakeBudget<PendingPeer>;
  readonly #refusals: RefusalLog;
  #accepted = 0;
  #port = 0;
  #closing: Promise<void> | undefined;

  private constructor(socket: Router, options: ListenOptions, settings: ReturnType<typeof checkListenOptions>, onLink: (link: ZmqLink) => void) {
    this.#socket = socket;
    this.#options = options;
    this.#settings = settings;
    this.#onLink = onLink;
    // One shared address: the per-address cap is the whole budget.
    const limits = { ...settings.handshakes, maxHandshakesPerAddress: settings.handshakes.maxHandshakes };
    this.#budget = new HandshakeBudget(limits, (pending, reason) => this.#dropped(pending, reason));
    this.#refusals = new RefusalLog(settings.refusalReportInterval, options.onRefused);
  }

  /** Binds a ROUTER socket; resolves once it listens. */
  static async listen(options: ListenOptions, onLink: (link: ZmqLink) => void): Promise<ZmqServer> {
    const settings = checkListenOptions(options);
    if (options.tls !== undefined) {
      throw new TypeError('Expected `tls` to be undefined with the ZeroMQ transport: zmq+tcp:// has no TLS (serve over tls:// instead), got TLS options');
    }
    const zmq = await loadZeromq();
    const socket = new zmq.Router({
      mandatory: true,
      sendTimeout: 0,
      sendHighWaterMark: HIGH_WATER_MARK,
      maxMessageSize: settings.connection.maxFrameSize + HEADER_SIZE,
      handshakeInterval: settings.connection.handshakeTimeout,
      linger: LINGER_MS,
      ipv6: settings.host.includes(':'),
    });
    try {
      await socket.bind(tcpEndpoint(settings.host, settings.port));
    } catch (error) {
      socket.close();
      throw error;
    }
    const server = new ZmqServer(socket, options, settings, onLink);
    server.#port = Number(/:(\d+)$/.exec(socket.lastEndpoint ?? '')?.[1] ?? settings.port);
    void server.#receive();
    return server;
  }

  get port(): number {
    return this.#port;
  }

  get host(): string {
    return this.#settings.host;
  }

  /** `zmq+tcp://host:port`, for connect(). */
  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `zmq+tcp://${host}:${this.#port}`;
  }

  get stats(): ListenerStats {
    return {
      open: this.#open.size,
      handshaking: this.#budget.size,
      accepted: this.#accepted,
      refused: this.#refusals.total,
      refusedBy: this.#refusals.totals,
      bufferedBytes: 0, // held by ZeroMQ's queues, which do not say
    };
  }

  /**
   * Says GOODBYE `reason` to every peer that can hear it (a REQ peer only while it waits for a
   * reply) and closes the socket. Resolves once the port is released (libzmq closes its listener
   * in its own thread), so that it can be bound again at once.
   */
  close(reason = 'the server is shutting down'): Promise<void> {
    this.#closing ??= Promise.resolve().then(async () => {
      this.#refusals.stop();
      this.#budget.dropAll();
      for (const link of [...this.#peers.values()]) link.close(reason);
      const endpoint = this.#socket.lastEndpoint;
      const released = new Promise<void>((resolve) => {
        this.#socket.events.on('close', (event) => event.address === endpoint && resolve());
        this.#socket.events.on('end', () => resolve());
        setTimeout(resolve, RELEASE_WAIT_MS).unref();
      });
      // Closing the socket closes its listener too (libzmq reports it on the socket's monitor).
      // No unbind() first: unbinding a ROUTER whose peers are closing their own ends at the same
      // moment can abort the process in libzmq 4.3.5 ("Assertion failed: _state == term_ack_sent
      // || _state == term_req_sent2", pipe.cpp:355), reproduced about once in 200 such shutdowns.
      this.#socket.close(); // LINGER_MS lets the GOODBYEs out
      await released;
    });
    return this.#closing;
  }

  // ---- receiving ----------------------------------------------------------------------------

  async #receive(): Promise<void> {
    while (!this.#socket.closed) {
      let message: Buffer[];
      try {
        message = await this.#socket.receive();
      } catch (error) {
        if (this.#socket.closed) return;
        this.#options.onError?.(error as Error);
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      try {
        this.#route(message);
      } catch (error) {
        this.#options.onError?.(error as Error);
      }
    }
  }

  #route(message: Buffer[]): void {
    let start = 1;
    for (let i = 1; i < message.length; i++) {
      if (message[i]!.length === 0) {
        start = i + 1;
        break;
      }
    }
    if (start >= message.length) return; // an envelope and nothing else: there is nothing to read
    const envelope = message.slice(0, start);
    const key = start === 1 ? `d${message[0]!.toString('latin1')}` : `r${envelope.map((part) => part.toString('hex')).join('.')}`;
    const link = this.#peers.get(key) ?? this.#admit(key, envelope, start > 1);
    link?.receive(message.slice(start));
  }

  /** A peer not seen before: a new link in the handshake budget, or one GOODBYE when there is no room. */
  #admit(key: string, envelope: Buffer[], gated: boolean): ZmqLink | undefined {
    if (this.#closing || this.#open.size >= this.#settings.maxConnections) {
      this.#refusals.record(this.#closing ? 'closing' : 'connections', PEER_ADDRESS);
      this.#deliver(envelope, [encodeFrame(FrameType.GOODBYE, 0, Buffer.from(this.#whyRefused()))]);
      return undefined;
    }
    const link: ZmqLink = new ZmqLink('server', {
      send: (parts) => this.#deliver(envelope, parts, link),
      closed: () => {
        this.#peers.delete(key);
        this.#budget.settle(pending);
      },
      address: `zmq peer ${envelope[0]!.toString('hex')}`,
    }, this.#settings.connection, gated);
    const pending = new PendingPeer(link, PEER_ADDRESS);
    this.#peers.set(key, link);
    this.#budget.admit(pending);
    link.handshake().then(
      () => this.#authenticated(pending, link),
      (error: Error) => this.#refuse(pending, error instanceof AuthenticationError ? 'authkey' : error instanceof ProtocolError ? 'protocol' : 'hangup'),
    );
    return link;
  }

  #deliver(envelope: Buffer[], parts: Buffer[], link?: ZmqLink): void {
    let sent: Promise<void>;
    try {
      sent = this.#socket.send(envelope.length === 1 ? [envelope[0]!, ...parts] : [...envelope, ...parts]);
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.catch((error: Error & { code?: string }) => {
      const why = error.code === 'EAGAIN' ? `it has not read its last ${HIGH_WATER_MARK} messages` : `it is gone (${error.code ?? error.message})`;
      link?.lost(new ConnectionClosedError(`the server could not send to the peer: ${why}`, { cause: error }));
    });
  }

  #authenticated(pending: PendingPeer, link: ZmqLink): void {
    if (pending.outcome !== 'pending') return link.close('the server dropped this connection during its handshake');
    if (this.#closing || this.#open.size >= this.#settings.maxConnections) {
      this.#refuse(pending, this.#closing ? 'closing' : 'connections');
      return link.close(this.#whyRefused());
    }
    pending.outcome = 'open';
    this.#budget.settle(pending);
    this.#accepted++;
    this.#open.add(link);
    link.onClose((error) => {
      this.#open.delete(link);
      if (error instanceof ProtocolError) this.#options.onError?.(error);
    });
    this.#onLink(link);
  }

  #dropped(pending: PendingPeer, reason: DropReason): void {
    this.#refuse(pending, reason);
    const why = reason === 'handshakes'
      ? `too many peers in their handshake (limit ${this.#settings.handshakes.maxHandshakes})`
      : reason === 'timeout' ? `the handshake did not complete within ${pending.deadline} ms` : 'the server is shutting down';
    pending.socket.close(why);
  }

  #refuse(pending: PendingPeer, reason: RefusalReason): void {
    if (pending.outcome !== 'pending') return;
    pending.outcome = reason;
    this.#refusals.record(reason, PEER_ADDRESS);
  }

  #whyRefused(): string {
    return this.#closing ? 'the server is shutting down' : `too many connections (limit ${this.#settings.maxConnections})`;
  }
}
