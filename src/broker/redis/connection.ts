/** The connections of the Redis adapter: how they are made, given up on and closed. */
import type { Redis, RedisOptions } from 'ioredis';
import { isIP } from 'node:net';
import { ConnectionClosedError } from '../../core/errors.js';
import { peer } from '../../peers/load.js';
import type { TransportOptions } from '../transport.js';

/** Requests queued while disconnected fail after this many reconnection attempts. */
const MAX_RETRIES_PER_REQUEST = 3;

export function serverAddress(url: URL): string {
  return `${url.hostname || 'localhost'}:${url.port || '6379'}`;
}

/**
 * A connection that does not connect yet. Commands issued while it is down fail after a few
 * reconnection attempts (so publish rejects in bounded time); it gives up for good (`end`,
 * then onLost) once it stayed down longer than `connectTimeout`.
 */
export function createConnection(url: URL, options: TransportOptions, extra: Partial<RedisOptions>): Redis {
  const plain = new URL(url.href);
  plain.search = '';
  plain.hash = '';
  let downSince: number | undefined;
  const connection = new (peer('ioredis').Redis)(plain.href, {
    lazyConnect: true,
    protocol: 2,
    connectTimeout: options.connectTimeout,
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
    // disconnect() arms a timer this long even for a socket that already closed (a failed
    // connect): a short one does not hold the process after a failed open.
    disconnectTimeout: 200,
    // ioredis reads the scheme of a URL but does not turn TLS on for rediss:// itself.
    ...(url.protocol === 'rediss:' ? { tls: isIP(url.hostname) ? {} : { servername: url.hostname } } : {}),
    retryStrategy: (attempt) => {
      downSince ??= Date.now();
      if (Date.now() - downSince > options.connectTimeout) return null;
      return Math.min(attempt * 100, 1000);
    },
    ...extra,
  });
  connection.on('ready', () => { downSince = undefined; });
  // An 'error' without a listener would crash the process; failures surface elsewhere.
  connection.on('error', () => undefined);
  return connection;
}

/** Connects, or rejects with ConnectionClosedError (and stops reconnecting) on the first failure. */
export async function connectOrThrow(connection: Redis, address: string): Promise<void> {
  let firstError: Error | undefined;
  const onError = (error: Error): void => { firstError ??= error; };
  connection.on('error', onError);
  try {
    await connection.connect();
  } catch (error) {
    connection.disconnect();
    const cause = firstError ?? error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ConnectionClosedError(`could not connect to redis at ${address}: ${reason}`, { cause });
  } finally {
    connection.off('error', onError);
  }
}

/** Closes politely, or hard if the server does not answer. */
export async function quit(connection: Redis): Promise<void> {
  if (connection.status === 'end') return;
  try {
    await Promise.race([connection.quit(), delay(1000).then(() => { throw new Error('quit timed out'); })]);
  } catch {
    connection.disconnect();
  }
}

/** A pause that does not keep the process alive (the connections do, while they are open). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
