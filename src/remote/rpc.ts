import { expected } from '../core/validate.js';
import { ByRef } from './codec.js';
import { dial, type Address, type DialOptions } from './dial.js';
import type { FramedLink } from './link.js';
import { ConnectionServer, type ListenerStats, type ListenOptions } from './listener.js';
import { checkCallOptions, type CallOptions } from './rpc/calls.js';
import type { RemoteRoot } from './rpc/proxy.js';
import { RpcSession } from './rpc/session.js';

/**
 * RPC and remote objects: serve() lends an object to every client that knows the authkey;
 * connect() returns a proxy of it whose methods return Futures.
 *
 * @example
 *   const server = await serve({ port: 0, authkey: 'secret', expose: { countWords } });
 *   const remote = await connect<{ countWords: typeof countWords }>(server.url, { authkey: 'secret' });
 *   const counts = await remote.countWords('a b a');
 *
 * Over ZeroMQ (zmq/, docs/protocol.md §10): serve({ transport: 'zmq', ... }) binds a ROUTER
 * socket and its url is zmq+tcp://HOST:PORT; connect() to such a URL dials with a DEALER. The
 * `zeromq` package is loaded then, and only then.
 */
export interface ServeOptions extends ListenOptions {
  /** The object whose methods and properties clients reach (id 0). */
  expose: object;
  /** Options of calls this side makes on objects clients lend it (callbacks). */
  callOptions?: CallOptions;
  /**
   * `'zmq'`: serve over ZeroMQ (a ROUTER socket; the url is `zmq+tcp://HOST:PORT`), for clients
   * that connect() to that URL and for plain ZeroMQ REQ or DEALER sockets that speak the protocol
   * (docs/protocol.md §10). Needs the `zeromq` package (v6). No TLS. @default 'tcp'
   */
  transport?: 'tcp' | 'zmq';
}

export interface ConnectOptions extends DialOptions {
  /** Default timeout of every call made through this connection, in milliseconds. */
  timeout?: number;
}

/** Marks `value` to be returned by reference: the caller receives a proxy (Remote<T>), not a copy. */
export function byRef<T extends object>(value: T): ByRef<T> {
  if (typeof value !== 'object' && typeof value !== 'function' || value === null) {
    throw new TypeError(expected('value', 'an object to lend by reference', value));
  }
  return new ByRef(value);
}

/** What RpcServer needs of the server under it: ConnectionServer (TCP, TLS) or ZmqServer. */
interface Listener {
  readonly port: number;
  readonly host: string;
  readonly url: string;
  readonly stats: ListenerStats;
  close(reason?: string): Promise<void>;
}

export class RpcServer {
  #listener: Listener;

  constructor(listener: Listener) {
    this.#listener = listener;
  }

  get port(): number {
    return this.#listener.port;
  }

  get host(): string {
    return this.#listener.host;
  }

  /** The address to give connect(). */
  get url(): string {
    return this.#listener.url;
  }

  get stats(): ListenerStats {
    return this.#listener.stats;
  }

  /** Stops serving: every client's pending calls reject with ConnectionClosedError. */
  close(reason?: string): Promise<void> {
    return this.#listener.close(reason);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export async function serve(options: ServeOptions): Promise<RpcServer> {
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object with authkey and expose', options));
  const { expose } = options;
  if (typeof expose !== 'object' && typeof expose !== 'function' || expose === null) {
    throw new TypeError(expected('expose', 'an object whose methods clients may call', expose));
  }
  const callOptions = options.callOptions === undefined ? undefined : checkCallOptions(options.callOptions);
  const transport = options.transport ?? 'tcp';
  if (transport !== 'tcp' && transport !== 'zmq') throw new TypeError(expected('transport', "'tcp' or 'zmq'", transport));
  const onLink = (link: FramedLink) => {
    new RpcSession(link, { root: expose, callOptions });
  };
  if (transport === 'zmq') {
    const { ZmqServer } = await import('./zmq/server.js');
    return new RpcServer(await ZmqServer.listen(options, onLink));
  }
  return new RpcServer(await ConnectionServer.listen(options, onLink));
}

/**
 * Connects to a server and resolves to a proxy of what it exposes: `tcp://`, `tls://`, or
 * `zmq+tcp://` (a server made with `transport: 'zmq'`).
 */
export async function connect<T extends object = Record<string, (...args: any[]) => unknown>>(address: Address, options: ConnectOptions): Promise<RemoteRoot<T>> {
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object with an authkey', options));
  const callOptions = options.timeout === undefined ? undefined : checkCallOptions({ timeout: options.timeout });
  const connection: FramedLink = typeof address === 'string' && address.startsWith('zmq+tcp:')
    ? await (await import('./zmq/dial.js')).dialZmq(address, options)
    : await dial(address, options);
  const session = new RpcSession(connection, { callOptions });
  try {
    return await session.root<RemoteRoot<T>>();
  } catch (error) {
    connection.close('could not describe the root object');
    throw error;
  }
}
