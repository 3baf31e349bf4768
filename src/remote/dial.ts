import { isIP, connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { ConnectionClosedError } from '../core/errors.js';
import { checkPositiveInteger, expected } from '../core/validate.js';
import { checkConnectionOptions, Connection, type ConnectionOptions } from './connection.js';
import { ChunkReader } from './reader.js';

/** Where a server listens: `tcp://HOST:PORT`, `tls://HOST:PORT`, or the parts. */
export type Address = string | { host?: string; port: number; tls?: boolean };

export interface DialOptions extends ConnectionOptions {
  /** Milliseconds to wait for the TCP (and TLS) connection. @default 10000 */
  connectTimeout?: number;
  /** TLS client options (ca, servername, ...); implied by a `tls://` address. */
  tls?: TlsConnectionOptions;
}

interface Endpoint {
  host: string;
  port: number;
  tls: boolean;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export function parseAddress(address: Address): Endpoint {
  if (typeof address === 'object' && address !== null) {
    const port = address.port;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(expected('port', 'a port number from 1 to 65535', port));
    return { host: address.host ?? '127.0.0.1', port, tls: address.tls === true };
  }
  if (typeof address !== 'string') throw new TypeError(expected('address', 'a URL such as tcp://127.0.0.1:5000', address));
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new TypeError(expected('address', 'a URL such as tcp://127.0.0.1:5000', address));
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'tls:') {
    throw new TypeError(expected('address', 'a tcp://, tls:// or zmq+tcp:// URL', address));
  }
  const port = Number(url.port);
  if (!url.port || !Number.isInteger(port) || port < 1) throw new RangeError(expected('address', 'a URL with a port', address));
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port, tls: url.protocol === 'tls:' };
}

/** Opens a socket to `address` and runs the client handshake on it. */
export async function dial(address: Address, options: DialOptions): Promise<Connection> {
  checkConnectionOptions(options);
  const endpoint = parseAddress(address);
  const timeout = options.connectTimeout === undefined ? DEFAULT_CONNECT_TIMEOUT_MS : checkPositiveInteger('connectTimeout', options.connectTimeout);
  const useTls = endpoint.tls || options.tls !== undefined;
  const reader = useTls ? undefined : new ChunkReader();
  const socket = await new Promise<Socket>((resolve, reject) => {
    const socket: Socket = useTls
      ? tlsConnect({ ...(isIP(endpoint.host) ? {} : { servername: endpoint.host }), ...options.tls, host: endpoint.host, port: endpoint.port }, () => done())
      : tcpConnect({ host: endpoint.host, port: endpoint.port, onread: reader!.onread }, () => done());
    const where = `${useTls ? 'tls' : 'tcp'}://${endpoint.host}:${endpoint.port}`;
    const timer = setTimeout(() => fail(new ConnectionClosedError(`could not connect to ${where} within ${timeout} ms`)), timeout);
    const onError = (error: Error) => fail(new ConnectionClosedError(`could not connect to ${where}: ${error.message}`, { cause: error }));
    socket.once('error', onError);
    function done() {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    }
    function fail(error: Error) {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    }
  });
  return Connection.client(socket, options, reader);
}
