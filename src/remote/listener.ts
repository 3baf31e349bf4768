import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { ProtocolError } from '../core/errors.js';
import { checkNonNegativeInteger, checkPositiveInteger, expected } from '../core/validate.js';
import { checkConnectionOptions, Connection, type ConnectionOptions } from './connection.js';
import { encodeFrame, FrameType } from './frame.js';
import { readAccepted } from './reader.js';

/**
 * Accepts authenticated connections: the server half that RPC, Manager and the cluster share.
 * Each accepted socket runs the handshake; only a socket that passes it reaches `onConnection`.
 * A failed handshake (wrong authkey, garbage, a client that never finishes) costs that socket
 * and nothing else: it is counted in `stats` and reported to `onError`.
 */
export interface ListenOptions extends ConnectionOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Connections (open or still in their handshake) beyond this are turned away at once. @default 1024 */
  maxConnections?: number;
  /** Serve TLS with this key and certificate (the authkey handshake still runs inside it). */
  tls?: TlsOptions;
  /** Hears about sockets that failed their handshake or broke the protocol. */
  onError?: (error: Error) => void;
}

export interface ListenerStats {
  /** Connections open now. */
  open: number;
  /** Connections that passed the handshake since the start. */
  accepted: number;
  /** Sockets that failed the handshake or were turned away. */
  refused: number;
  /** Answer bytes written but not yet taken by the kernel, over every connection. */
  bufferedBytes: number;
}

const DEFAULT_MAX_CONNECTIONS = 1024;

export class ConnectionServer {
  #server: Server;
  #options: ListenOptions;
  #maxConnections: number;
  #onConnection: (connection: Connection) => void;
  #open = new Set<Connection>();
  #handshaking = new Set<Socket>();
  #accepted = 0;
  #refused = 0;
  #closing: Promise<void> | undefined;

  private constructor(options: ListenOptions, onConnection: (connection: Connection) => void) {
    this.#options = options;
    this.#onConnection = onConnection;
    this.#maxConnections = options.maxConnections === undefined ? DEFAULT_MAX_CONNECTIONS : checkPositiveInteger('maxConnections', options.maxConnections);
    const accept = (socket: Socket) => this.#accept(socket);
    // Plain TCP sockets arrive paused so that #accept can re-make them to read through a
    // ChunkReader (see reader.ts) before any byte is read.
    this.#server = options.tls ? createTlsServer(options.tls, accept) : createTcpServer({ pauseOnConnect: true }, accept);
  }

  /** Listens; resolves once the port is bound. */
  static async listen(options: ListenOptions, onConnection: (connection: Connection) => void): Promise<ConnectionServer> {
    checkConnectionOptions(options);
    const host = options.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '') throw new TypeError(expected('host', 'a host name or address', host));
    const port = options.port ?? 0;
    checkNonNegativeInteger('port', port);
    if (port > 65535) throw new RangeError(expected('port', 'a port number from 0 to 65535', port));
    if (options.tls !== undefined && (typeof options.tls !== 'object' || options.tls === null)) {
      throw new TypeError(expected('tls', 'TLS options with a key and a certificate', options.tls));
    }
    const server = new ConnectionServer(options, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen(port, host, () => {
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
    return typeof address === 'object' && address ? address.address : this.#options.host ?? '127.0.0.1';
  }

  /** `tcp://host:port` or `tls://host:port`, for connect(). */
  get url(): string {
    return `${this.#options.tls ? 'tls' : 'tcp'}://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  get stats(): ListenerStats {
    let bufferedBytes = 0;
    for (const connection of this.#open) bufferedBytes += connection.bufferedBytes;
    return { open: this.#open.size, accepted: this.#accepted, refused: this.#refused, bufferedBytes };
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
      for (const socket of this.#handshaking) socket.destroy();
      for (const connection of this.#open) connection.close(reason);
    });
    return this.#closing;
  }

  #accept(accepted: Socket): void {
    if (this.#closing || this.#open.size + this.#handshaking.size >= this.#maxConnections) {
      this.#refused++;
      const socket = accepted;
      socket.on('error', () => {});
      socket.resume(); // read (and drop) until the peer closes, so the socket can finish closing
      const why = this.#closing ? 'the server is shutting down' : `too many connections (limit ${this.#maxConnections})`;
      socket.end(encodeFrame(FrameType.GOODBYE, 0, Buffer.from(why)));
      return;
    }
    const adopted = this.#options.tls ? undefined : readAccepted(accepted);
    const socket = adopted?.socket ?? accepted;
    if (!adopted && !this.#options.tls) socket.resume(); // pauseOnConnect held it; 'data' events from here
    this.#handshaking.add(socket);
    Connection.server(socket, this.#options, adopted?.reader).then(
      (connection) => {
        this.#handshaking.delete(socket);
        if (this.#closing) return connection.close('the server is shutting down');
        this.#accepted++;
        this.#open.add(connection);
        connection.onClose((error) => {
          this.#open.delete(connection);
          if (error instanceof ProtocolError) this.#options.onError?.(error);
        });
        this.#onConnection(connection);
      },
      (error: Error) => {
        this.#handshaking.delete(socket);
        this.#refused++;
        this.#options.onError?.(error);
      },
    );
  }
}
