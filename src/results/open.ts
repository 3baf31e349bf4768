import { expected } from '../core/validate.js';
import { MemoryResultStore } from './memory.js';
import type { ResultStore } from './store.js';

/**
 * Opens a result backend by URL: `redis://HOST:PORT`, `nats://HOST:PORT` (a JetStream
 * key-value bucket) or `memory://NAME`. Clients load on first use, as the broker adapters do.
 */
export async function openResultStore(url: string | URL, options: { connectTimeout?: number; ttl: number }): Promise<ResultStore> {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new TypeError(expected('resultBackend', 'a URL such as redis://127.0.0.1:6379', url));
  }
  const connectTimeout = options.connectTimeout ?? 10_000;
  switch (parsed.protocol) {
    case 'memory:':
      return new MemoryResultStore(parsed.host || parsed.pathname || 'default');
    case 'redis:':
    case 'rediss:':
      return (await import('./redis.js')).openRedisResultStore(parsed, connectTimeout);
    case 'nats:':
      return (await import('./nats.js')).openNatsResultStore(parsed, connectTimeout, options.ttl);
    default:
      throw new TypeError(expected('resultBackend', 'a redis://, nats:// or memory:// URL (RabbitMQ and weft:// cannot keep results)', String(url)));
  }
}

/** The result backend a broker URL brings by itself: the same server where it can keep results. */
export function defaultResultBackend(brokerUrl: URL): URL | undefined {
  switch (brokerUrl.protocol) {
    case 'memory:':
    case 'redis:':
    case 'rediss:':
    case 'nats:': {
      const url = new URL(brokerUrl.href);
      url.search = '';
      return url;
    }
    default:
      return undefined; // amqp, weft: results reach the submitter through its reply queue only
  }
}
