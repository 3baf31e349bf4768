import type { ResultStore } from './store.js';

/**
 * Results inside this process (`memory://NAME`): every store opened with the same NAME shares
 * one table, as memory brokers share queues. For tests and single-process programs.
 */
interface Entry {
  record: Uint8Array;
  expires: number;
}

const tables = new Map<string, Map<string, Entry>>();

export class MemoryResultStore implements ResultStore {
  readonly kind = 'memory';
  readonly #table: Map<string, Entry>;
  #closed = false;

  constructor(name: string) {
    let table = tables.get(name);
    if (!table) tables.set(name, (table = new Map()));
    this.#table = table;
  }

  async settle(id: string, record: Uint8Array, ttl: number): Promise<boolean> {
    this.#checkOpen();
    if (this.#live(id)) return false;
    this.#table.set(id, { record: record.slice(), expires: Date.now() + ttl });
    return true;
  }

  async get(id: string): Promise<Uint8Array | undefined> {
    this.#checkOpen();
    return this.#live(id)?.record;
  }

  async getMany(ids: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.#checkOpen();
    return ids.map((id) => this.#live(id)?.record);
  }

  async forget(id: string): Promise<void> {
    this.#checkOpen();
    this.#table.delete(id);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Expired entries go when read: no timer keeps the process alive. */
  #live(id: string): Entry | undefined {
    const entry = this.#table.get(id);
    if (entry && entry.expires <= Date.now()) {
      this.#table.delete(id);
      return undefined;
    }
    return entry;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('the memory result store is closed');
  }
}
