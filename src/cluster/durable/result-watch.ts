import { Codec } from '../../remote/codec.js';
import type { ResultStore } from '../../results/store.js';
import { readStoredResult, type StoredResult } from './messages.js';

/**
 * Waits for outcomes in the result store: the ids of `cluster.result(id)` futures that are not
 * this submitter's, and this submitter's own jobs after a reconnection (their outcomes went to
 * an inbox that is gone). One poll reads every watched id in batches; the interval starts short
 * and doubles while nothing comes (stores offer no portable change feed: Redis keyspace events
 * are off by default).
 */
const MIN_INTERVAL_MS = 20;
const MAX_INTERVAL_MS = 1000;
/** Ids read per round trip (MGET). */
const BATCH = 500;

export class ResultWatch {
  readonly #store: ResultStore;
  readonly #codec = new Codec();
  readonly #watched = new Map<string, ((record: StoredResult) => void)[]>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #interval = MIN_INTERVAL_MS;
  #polling = false;
  #closed = false;

  constructor(store: ResultStore) {
    this.#store = store;
  }

  add(id: string, onRecord: (record: StoredResult) => void): void {
    const listeners = this.#watched.get(id);
    if (listeners) listeners.push(onRecord);
    else this.#watched.set(id, [onRecord]);
    this.#interval = MIN_INTERVAL_MS;
    this.#schedule();
  }

  has(id: string): boolean {
    return this.#watched.has(id);
  }

  forget(id: string): void {
    this.#watched.delete(id);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer || this.#polling || this.#closed || this.#watched.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#poll();
    }, this.#interval);
  }

  async #poll(): Promise<void> {
    this.#polling = true;
    let found = false;
    try {
      const ids = [...this.#watched.keys()];
      for (let i = 0; i < ids.length && !this.#closed; i += BATCH) {
        const batch = ids.slice(i, i + BATCH);
        const records = await this.#store.getMany(batch);
        records.forEach((bytes, j) => {
          if (!bytes) return;
          const record = readStoredResult(this.#decode(bytes));
          const listeners = this.#watched.get(batch[j]!);
          if (!record || !listeners) return;
          found = true;
          this.#watched.delete(batch[j]!);
          for (const listener of listeners) listener(record);
        });
      }
    } catch {
      // The store is unreachable for now: try again later.
    } finally {
      this.#polling = false;
    }
    this.#interval = found ? MIN_INTERVAL_MS : Math.min(MAX_INTERVAL_MS, this.#interval * 2);
    this.#schedule();
  }

  #decode(bytes: Uint8Array): unknown {
    try {
      return this.#codec.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch {
      return undefined;
    }
  }
}
