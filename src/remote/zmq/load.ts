import { expected } from '../../core/validate.js';
import { missingOr } from '../../peers/load.js';

/**
 * The `zeromq` package (v6), loaded the first time a zmq+tcp:// server or client is made: it is
 * an optional peer dependency, so programs that never use ZeroMQ neither load nor install it.
 */
export type Zmq = typeof import('zeromq');

let loading: Promise<Zmq> | undefined;

export function loadZeromq(): Promise<Zmq> {
  loading ??= import('zeromq').then(
    (module) => module,
    (error: unknown) => {
      loading = undefined;
      const missing = missingOr(error, 'zeromq', 'zmq+tcp:// (ZeroMQ)');
      if (missing !== error) throw missing;
      throw new Error(`the zeromq package could not be loaded: ${(error as Error).message}`, { cause: error });
    },
  );
  return loading;
}

/** `zmq+tcp://HOST:PORT` → host and port (port 0 only where `allowAnyPort`: a server picking a free one). */
export function parseZmqUrl(address: string, allowAnyPort = false): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new TypeError(expected('address', 'a URL such as zmq+tcp://127.0.0.1:5555', address));
  }
  if (url.protocol !== 'zmq+tcp:') throw new TypeError(expected('address', 'a zmq+tcp:// URL', address));
  const port = Number(url.port || (allowAnyPort ? 0 : NaN));
  if (!Number.isInteger(port) || port < (allowAnyPort ? 0 : 1) || port > 65535) throw new RangeError(expected('address', 'a URL with a port', address));
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port };
}

/** The libzmq endpoint of host and port: `tcp://HOST:PORT`, IPv6 hosts bracketed, port 0 as `*` (any free port). */
export function tcpEndpoint(host: string, port: number): string {
  return `tcp://${host.includes(':') ? `[${host}]` : host}:${port === 0 ? '*' : port}`;
}
