import type { KV, NatsConnection } from 'nats';
import { ConnectionClosedError } from '../core/errors.js';
import { loadPeer } from '../peers/load.js';
import type { ResultStore } from './store.js';

/**
 * Results in a NATS JetStream key-value bucket (`weft-results`, file storage, one revision per
 * key). `kv.create` writes a key only if it has no value: the first settle wins. NATS ages a
 * whole bucket, not a key: the bucket's max age is the ttl of whoever created it (a later,
 * different ttl is not applied to an existing bucket; delete the bucket to change it). The
 * connection reconnects forever, so a server restart is survived.
 */
const BUCKET = 'weft-results';
/** Keys NATS takes as they are; anything else is hex-encoded (task ids weft makes never are). */
const PLAIN_KEY = /^[-_a-zA-Z0-9]{1,200}$/;

export async function openNatsResultStore(url: URL, connectTimeout: number, ttl: number): Promise<ResultStore> {
  const { connect } = await loadPeer('nats', 'a nats:// result backend');
  const server = url.host || '127.0.0.1:4222';
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: server,
      name: 'weft-results',
      timeout: connectTimeout,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...(url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : {}),
    });
  } catch (error) {
    throw new ConnectionClosedError(`cannot connect to the NATS result backend at ${server}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const kv = await nc.jetstream().views.kv(BUCKET, { history: 1, ttl: Math.max(1000, Math.round(ttl)) });
    return new NatsResultStore(nc, kv);
  } catch (error) {
    await nc.close().catch(() => undefined);
    throw new ConnectionClosedError(`the NATS server at ${server} cannot hold results (JetStream key-value): ${(error as Error).message}`, { cause: error });
  }
}

class NatsResultStore implements ResultStore {
  readonly kind = 'nats';
  readonly #nc: NatsConnection;
  readonly #kv: KV;

  constructor(nc: NatsConnection, kv: KV) {
    this.#nc = nc;
    this.#kv = kv;
  }

  async settle(id: string, record: Uint8Array, _ttl: number): Promise<boolean> {
    try {
      await this.#kv.create(keyOf(id), record);
      return true;
    } catch (error) {
      // The server refuses a create over an existing value: "wrong last sequence".
      if (/wrong last sequence|key exists/i.test((error as Error).message)) return false;
      throw error;
    }
  }

  async get(id: string): Promise<Uint8Array | undefined> {
    const entry = await this.#kv.get(keyOf(id));
    if (!entry || entry.operation !== 'PUT') return undefined;
    return entry.value;
  }

  getMany(ids: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    return Promise.all(ids.map((id) => this.get(id)));
  }

  async forget(id: string): Promise<void> {
    // A delete marker: create() succeeds over it, get() reads it as no value.
    await this.#kv.delete(keyOf(id));
  }

  async close(): Promise<void> {
    await this.#nc.close().catch(() => undefined);
  }
}

function keyOf(id: string): string {
  return PLAIN_KEY.test(id) ? id : `x${Buffer.from(id).toString('hex')}`;
}
