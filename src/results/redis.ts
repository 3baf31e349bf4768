import type { Redis } from 'ioredis';
import { isIP } from 'node:net';
import { ConnectionClosedError } from '../core/errors.js';
import { loadPeer } from '../peers/load.js';
import type { ResultStore } from './store.js';

/**
 * Results on Redis: one key `weft:r:<id>` per task, written with `SET NX PX ttl` (one atomic
 * create: the first settle wins) and read with GET / MGET. The connection reconnects forever
 * (a server restart is survived); a command issued while it is down fails after a few attempts
 * so that the caller can retry it, instead of hanging.
 */
const KEY_PREFIX = 'weft:r:';
/** Commands queued while disconnected fail after this many reconnection attempts (about 1.5 s). */
const MAX_RETRIES_PER_REQUEST = 5;

export async function openRedisResultStore(url: URL, connectTimeout: number): Promise<ResultStore> {
  const plain = new URL(url.href);
  plain.search = '';
  plain.hash = '';
  const { Redis } = await loadPeer('ioredis', 'a redis:// result backend');
  const connection = new Redis(plain.href, {
    lazyConnect: true,
    protocol: 2,
    connectTimeout,
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
    disconnectTimeout: 200,
    // A burst of settles (tasks that ended together) leaves in one write.
    enableAutoPipelining: true,
    ...(url.protocol === 'rediss:' ? { tls: isIP(url.hostname) ? {} : { servername: url.hostname } } : {}),
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  });
  connection.on('error', () => undefined); // reported by the failing command
  const where = `${url.hostname || 'localhost'}:${url.port || '6379'}`;
  try {
    await connection.connect();
  } catch (error) {
    connection.disconnect();
    throw new ConnectionClosedError(`could not connect to the redis result backend at ${where}: ${(error as Error).message}`, { cause: error });
  }
  return new RedisResultStore(connection);
}

class RedisResultStore implements ResultStore {
  readonly kind = 'redis';
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  async settle(id: string, record: Uint8Array, ttl: number): Promise<boolean> {
    const value = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
    const reply = await this.#redis.set(KEY_PREFIX + id, value, 'PX', Math.max(1, Math.round(ttl)), 'NX');
    return reply === 'OK';
  }

  async get(id: string): Promise<Uint8Array | undefined> {
    return (await this.#redis.getBuffer(KEY_PREFIX + id)) ?? undefined;
  }

  async getMany(ids: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    if (ids.length === 0) return [];
    const values = await this.#redis.mgetBuffer(...ids.map((id) => KEY_PREFIX + id));
    return values.map((value) => value ?? undefined);
  }

  async forget(id: string): Promise<void> {
    await this.#redis.del(KEY_PREFIX + id);
  }

  async close(): Promise<void> {
    if (this.#redis.status === 'end') return;
    try {
      await Promise.race([this.#redis.quit(), new Promise((_, reject) => setTimeout(() => reject(new Error('quit timed out')), 1000).unref())]);
    } catch {
      this.#redis.disconnect();
    }
  }
}
