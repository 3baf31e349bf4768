import { createServer as createTcpServer, Socket, type Server } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { AuthenticationError, ProtocolError } from '../core/errors.js';
import { checkNonNegativeInteger, checkPositiveInteger, expected } from '../core/validate.js';
import { checkConnectionOptions, Connection, type ConnectionOptions, type ConnectionSettings } from './connection.js';
import { encodeFrame, FrameType } from './frame.js';
import {
  addressKey, DEFAULT_HANDSHAKE_TIMEOUT_UNDER_PRESSURE_MS, DEFAULT_MAX_HANDSHAKES, HandshakeBudget, PER_ADDRESS_SHARE,
  PendingHandshake, type DropReason, type HandshakeLimits,
} from './handshake-budget.js';
import { readAccepted } from './reader.js';
import { DEFAULT_REFUSAL_REPORT_INTERVAL_MS, RefusalLog, type RefusalReason, type RefusalReport } from './refusals.js';

/**
 * Accepts authenticated connections: the server half that RPC, Manager, the cluster and the
 * broker share.
 *
 *   TCP accept ──▶ at maxConnections? ── GOODBYE, closed ─────────────────────────────▶ refusals
 *        │                                                                                  ▲
 *        ▼                                                                                  │
 *   handshake budget (handshake-budget.ts): per address and in total, with a deadline ── dropped
 *        │  (TLS: the TLS handshake runs here too, then the authkey handshake)              │
 *        ▼                                                                                  │
 *   authkey handshake (Connection.server) ── wrong key, garbage, hang-up ───────────────────┘
 *        │ WELCOME
 *        ▼
 *   open connections (at most maxConnections) ──▶ onConnection
 *
 * A socket is always either an open connection or in the handshake budget, until it closes, so
 * sockets that never authenticate cannot take the slots of clients that do. A failed or dropped
 * socket costs that socket only: it is counted in `stats.refusedBy` and reported in aggregate
 * to `onRefused` (refusals.ts), never one callback or log line per socket.
 */
export interface ListenOptions extends ConnectionOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /**
   * Authenticated connections open at once; a socket that arrives beyond it gets GOODBYE
   * (`too many connections (limit N)`). Sockets still in their handshake do not count here.
   * @default 1024
   */
  maxConnections?: number;
  /**
   * Sockets in their handshake at once (TLS and authkey), over every address. When full, the
   * oldest handshake of the address holding the most is dropped to admit the newcomer.
   * @default 512
   */
  maxHandshakes?: number;
  /**
   * Sockets in their handshake at once from one address (IPv6: one /64). When full, that
   * address's oldest handshake is dropped to admit the newcomer, once it is older than
   * `handshakeGrace`. Authenticated connections are not limited per address. @default maxHandshakes / 2
   */
  maxHandshakesPerAddress?: number;
  /**
   * Milliseconds a handshake may take when it begins while the budget or its address is past
   * half full (otherwise `handshakeTimeout`). @default 1000, or handshakeTimeout when shorter
   */
  handshakeTimeoutUnderPressure?: number;
  /**
   * Milliseconds a new handshake is safe from being dropped for room in its own address (a burst
   * of connects is accepted before any of them can answer); meanwhile the address may hold more
   * than `maxHandshakesPerAddress`. 0: no grace. @default handshakeTimeoutUnderPressure
   */
  handshakeGrace?: number;
  /** Milliseconds between two reports to `onRefused`. @default 10000 */
  refusalReportInterval?: number;
  /** Serve TLS with this key and certificate (the authkey handshake still runs inside it). */
  tls?: TlsOptions;
  /**
   * Hears, at most once per `refusalReportInterval`, how many sockets were refused or dropped
   * before authenticating and why (the first report after a quiet interval comes at once).
   */
  onRefused?: (report: RefusalReport) => void;
  /** Hears about authenticated connections that broke the protocol, and errors of the server itself. */
  onError?: (error: Error) => void;
}

export interface ListenerStats {
  /** Authenticated connections open now. */
  open: number;
  /** Sockets in their handshake now. */
  handshaking: number;
  /** Connections that passed the handshake since the start. */
  accepted: number;
  /** Sockets refused or dropped before authenticating, since the start. */
  refused: number;
  /** `refused` by reason. */
  refusedBy: Record<RefusalReason, number>;
  /** Answer bytes written but not yet taken by the kernel, over every connection. */
  bufferedBytes: number;
}

/** Authenticated connections at once: the default of `maxConnections`. */
const DEFAULT_MAX_CONNECTIONS = 1024;
/**
 * The kernel's queue of connections not yet accepted (Linux caps it at net.core.somaxconn).
 * Node's default, 511, is smaller than one burst of the handshake budget plus the connection
 * limit; a connect that finds the queue full has its SYN dropped and waits a 1 s retransmit.
 */
const LISTEN_BACKLOG = 2048;

interface ListenSettings {
  connection: ConnectionSettings;
  host: string;
  port: number;
  maxConnections: number;
  handshakes: HandshakeLimits;
  refusalReportInterval: number;
}

/** Validates ListenOptions (Manager calls it at construction); throws with the exact option at fault. */
export function checkListenOptions(options: ListenOptions): ListenSettings {
  const connection = checkConnectionOptions(options);
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new TypeError(expected('host', 'a host name or address', host));
  const port = options.port ?? 0;
  checkNonNegativeInteger('port', port);
  if (port > 65535) throw new RangeError(expected('port', 'a port number from 0 to 65535', port));
  if (options.tls !== undefined && (typeof options.tls !== 'object' || options.tls === null)) {
    throw new TypeError(expected('tls', 'TLS options with a key and a certificate', options.tls));
  }
  for (const name of ['onRefused', 'onError'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw new TypeError(expected(name, 'a function', options[name]));
  }
  const optional = (name: keyof ListenOptions, fallback: number): number =>
    options[name] === undefined ? fallback : checkPositiveInteger(name, options[name]);
  const maxHandshakes = optional('maxHandshakes', DEFAULT_MAX_HANDSHAKES);
  const maxHandshakesPerAddress = optional('maxHandshakesPerAddress', Math.ceil(maxHandshakes / PER_ADDRESS_SHARE));
  if (maxHandshakesPerAddress > maxHandshakes) {
    throw new RangeError(expected('maxHandshakesPerAddress', `a positive integer no larger than maxHandshakes (${maxHandshakes})`, maxHandshakesPerAddress));
  }
  const { handshakeTimeout } = connection;
  const handshakeTimeoutUnderPressure = optional('handshakeTimeoutUnderPressure', Math.min(DEFAULT_HANDSHAKE_TIMEOUT_UNDER_PRESSURE_MS, handshakeTimeout));
  if (handshakeTimeoutUnderPressure > handshakeTimeout) {
    throw new RangeError(expected('handshakeTimeoutUnderPressure', `a positive integer no larger than handshakeTimeout (${handshakeTimeout} ms)`, handshakeTimeoutUnderPressure));
  }
  const handshakeGrace = options.handshakeGrace === undefined ? handshakeTimeoutUnderPressure : checkNonNegativeInteger('handshakeGrace', options.handshakeGrace);
  return {
    connection,
    host,
    port,
    maxConnections: optional('maxConnections', DEFAULT_MAX_CONNECTIONS),
    handshakes: { maxHandshakes, maxHandshakesPerAddress, handshakeTimeout, handshakeTimeoutUnderPressure, handshakeGrace },
    refusalReportInterval: optional('refusalReportInterval', DEFAULT_REFUSAL_REPORT_INTERVAL_MS),
  };
}

/** A socket in the handshake budget, and what it has come to. */
class Tracked extends PendingHandshake {
  outcome: 'pending' | 'open' | RefusalReason = 'pending';
  /** The socket the authkey handshake runs on once it began (for TLS, the TLS socket); GOODBYE goes there. */
  framed: Socket | undefined;
}

export class ConnectionServer {
  #server: Server;
  #options: ListenOptions;
  #settings: ListenSettings;
  #onConnection: (connection: Connection) => void;
  #open = new Set<Connection>();
  #budget: HandshakeBudget<Tracked>;
  #refusals: RefusalLog;
  #accepted = 0;
  #closing: Promise<void> | undefined;

  private constructor(options: ListenOptions, settings: ListenSettings, onConnection: (connection: Connection) => void) {
    this.#options = options;
    this.#settings = settings;
    this.#onConnection = onConnection;
    this.#budget = new HandshakeBudget(settings.handshakes, (pending, reason) => this.#dropped(pending, reason));
    this.#refusals = new RefusalLog(settings.refusalReportInterval, options.onRefused);
    if (options.tls) {
      const server = createTlsServer(options.tls, (socket) => this.#secured(socket));
      // 'connection' is the TCP accept, before TLS: the budget (and its deadline) starts there.
      server.on('connection', (raw: Socket) => this.#acceptTls(raw));
      server.on('tlsClientError', (_error, socket) => this.#tlsFailed(socket));
      this.#server = server;
    } else {
      // Plain TCP sockets arrive paused so that #acceptTcp can re-make them to read through a
      // ChunkReader (see reader.ts) before any byte is read.
      this.#server = createTcpServer({ pauseOnConnect: true }, (socket) => this.#acceptTcp(socket));
    }
  }

  /** Listens; resolves once the port is bound. */
  static async listen(options: ListenOptions, onConnection: (connection: Connection) => void): Promise<ConnectionServer> {
    const settings = checkListenOptions(options);
    const server = new ConnectionServer(options, settings, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen({ port: settings.port, host: settings.host, backlog: LISTEN_BACKLOG }, () => {
        server.#server.off('error', reject);
        resolve();
      });
    });
    server.#server.on('error', (error) => options.onError?.(error));
    return server;
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  get host(): string {
    const address = this.#server.address();
    return typeof address === 'object' && address ? address.address : this.#settings.host;
  }

  /** `tcp://host:port` or `tls://host:port`, for connect(). */
  get url(): string {
    return `${this.#options.tls ? 'tls' : 'tcp'}://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  get stats(): ListenerStats {
    let bufferedBytes = 0;
    for (const connection of this.#open) bufferedBytes += connection.bufferedBytes;
    return {
      open: this.#open.size,
      handshaking: this.#budget.size,
      accepted: this.#accepted,
      refused: this.#refusals.total,
      refusedBy: this.#refusals.totals,
      bufferedBytes,
    };
  }

  get connections(): ReadonlySet<Connection> {
    return this.#open;
  }

  /**
   * Stops listening and closes every connection with GOODBYE `reason`; their pending calls
   * fail at once on both sides. Resolves when every socket is gone.
   */
  close(reason = 'the server is shutting down'): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#refusals.stop(); // reports what was pending; the handshakes dropped now are counted, not reported
      this.#budget.dropAll();
      for (const connection of this.#open) connection.close(reason);
    });
    return this.#closing;
  }

  // ---- accepting ----------------------------------------------------------------------------

  #acceptTcp(accepted: Socket): void {
    const address = addressKey(accepted.remoteAddress);
    if (this.#closing || this.#open.size >= this.#settings.maxConnections) {
      this.#refusals.record(this.#closing ? 'closing' : 'connections', address);
      accepted.on('error', () => {});
      // Nothing was read (pauseOnConnect) and an honest client waits for HELLO, so closing at
      // once sends GOODBYE and a FIN; the socket is gone now, not when the peer closes.
      accepted.write(encodeFrame(FrameType.GOODBYE, 0, Buffer.from(this.#whyRefused())));
      accepted.destroy();
      return;
    }
    const adopted = readAccepted(accepted);
    const socket = adopted?.socket ?? accepted;
    if (!adopted) socket.resume(); // pauseOnConnect held it; 'data' events from here
    this.#handshake(this.#track(socket, address), socket, adopted?.reader);
  }

  #acceptTls(raw: Socket): void {
    const address = addressKey(raw.remoteAddress);
    if (this.#closing) {
      this.#refusals.record('closing', address);
      raw.destroy();
      return;
    }
    this.#track(raw, address);
  }

  /** The TLS handshake of a tracked socket succeeded; the authkey handshake follows in the same budget slot. */
  #secured(socket: Socket): void {
    const tracked = this.#trackedBy(socket) ?? this.#track(socket, addressKey(socket.remoteAddress));
    if (tracked.outcome !== 'pending') return void socket.destroy();
    if (this.#closing || this.#open.size >= this.#settings.maxConnections) {
      this.#refuse(tracked, this.#closing ? 'closing' : 'connections');
      socket.on('error', () => {});
      socket.end(encodeFrame(FrameType.GOODBYE, 0, Buffer.from(this.#whyRefused())));
      return; // the budget's deadline destroys it if the peer never closes
    }
    this.#handshake(tracked, socket);
  }

  #tlsFailed(socket: Socket): void {
    const tracked = this.#trackedBy(socket);
    if (tracked) this.#refuse(tracked, 'protocol');
  }

  /**
   * The entry of a TLS socket's TCP socket, which net's TLSSocket keeps as `_parent`
   * (undocumented, unchanged since Node 0.11). Where it is missing, #secured tracks the TLS
   * socket from there on: the TLS handshake then ran outside the budget, the rest does not.
   */
  #trackedBy(socket: Socket): Tracked | undefined {
    const raw = (socket as unknown as { _parent?: unknown })._parent;
    return raw instanceof Socket ? tlsTracked.get(raw) : undefined;
  }

  /** Puts `socket` in the handshake budget until it authenticates or closes. */
  #track(socket: Socket, address: string): Tracked {
    const tracked = new Tracked(socket, address);
    this.#budget.admit(tracked);
    if (this.#options.tls) {
      tlsTracked.set(socket, tracked);
      socket.on('error', () => {}); // before TLS no Connection listens; the close that follows is what counts
    }
    socket.on('close', () => {
      this.#budget.settle(tracked);
      if (tracked.outcome === 'pending') this.#refuse(tracked, 'hangup');
    });
    return tracked;
  }

  #handshake(tracked: Tracked, socket: Socket, reader?: Parameters<typeof Connection.server>[2]): void {
    tracked.framed = socket;
    Connection.server(socket, this.#settings.connection, reader).then(
      (connection) => this.#authenticated(tracked, connection),
      (error: Error) => this.#refuse(tracked, error instanceof AuthenticationError ? 'authkey' : error instanceof ProtocolError ? 'protocol' : 'hangup'),
    );
  }

  #authenticated(tracked: Tracked, connection: Connection): void {
    if (tracked.outcome !== 'pending') return connection.close('the server dropped this connection during its handshake');
    if (this.#closing) {
      this.#refuse(tracked, 'closing');
      return connection.close('the server is shutting down');
    }
    if (this.#open.size >= this.#settings.maxConnections) {
      this.#refuse(tracked, 'connections');
      return connection.close(this.#whyRefused());
    }
    tracked.outcome = 'open';
    this.#budget.settle(tracked);
    this.#accepted++;
    this.#open.add(connection);
    connection.onClose((error) => {
      this.#open.delete(connection);
      if (error instanceof ProtocolError) this.#options.onError?.(error);
    });
    this.#onConnection(connection);
  }

  /** The budget let go of `pending`: count why, tell the peer when it can read frames, close it. */
  #dropped(tracked: Tracked, reason: DropReason): void {
    if (tracked.outcome === 'pending') {
      this.#refuse(tracked, reason);
      const why = reason === 'handshakes'
        ? `too many connections in their handshake (limit ${this.#settings.handshakes.maxHandshakes}, ${this.#settings.handshakes.maxHandshakesPerAddress} per address)`
        : reason === 'timeout' ? `the handshake did not complete within ${tracked.deadline} ms` : 'the server is shutting down';
      if (tracked.framed && !tracked.framed.destroyed) tracked.framed.write(encodeFrame(FrameType.GOODBYE, 0, Buffer.from(why)));
    }
    tracked.socket.destroy();
  }

  #refuse(tracked: Tracked, reason: RefusalReason): void {
    if (tracked.outcome !== 'pending') return;
    tracked.outcome = reason;
    this.#refusals.record(reason, tracked.address);
  }

  #whyRefused(): string {
    return this.#closing ? 'the server is shutting down' : `too many connections (limit ${this.#settings.maxConnections})`;
  }
}

/** The entries of TLS servers' TCP sockets, to find them again from their TLS sockets. */
const tlsTracked = new WeakMap<Socket, Tracked>();
