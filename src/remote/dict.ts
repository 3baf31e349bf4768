/**
 * A Map-like dictionary made to be served (multiprocessing's `manager.dict()`): every method
 * takes and returns plain values, so each one works the same through a remote proxy, where a
 * Map's iterators could not cross the wire. Values are stored as given; a remote caller gets
 * copies.
 */
export class Dict<K = unknown, V = unknown> {
  readonly #map: Map<K, V>;

  constructor(entries?: Iterable<readonly [K, V]> | null) {
    this.#map = new Map(entries ?? undefined);
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  /** The value for `key`, or `fallback` when there is none (dict.get(key, default)). */
  getOr(key: K, fallback: V): V {
    return this.#map.has(key) ? this.#map.get(key)! : fallback;
  }

  set(key: K, value: V): void {
    this.#map.set(key, value);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  /** Sets `key` to `value` only when it is absent; returns what `key` holds afterwards (dict.setdefault). */
  setDefault(key: K, value: V): V {
    if (!this.#map.has(key)) this.#map.set(key, value);
    return this.#map.get(key)!;
  }

  /** Adds `delta` to a numeric value (missing counts as 0) in one step, so concurrent clients never lose an update. */
  increment(key: K, delta = 1): number {
    const next = (Number(this.#map.get(key) ?? 0) || 0) + delta;
    this.#map.set(key, next as V);
    return next;
  }

  /** Removes `key` and returns its value (dict.pop). */
  pop(key: K): V | undefined {
    const value = this.#map.get(key);
    this.#map.delete(key);
    return value;
  }

  /** Sets every entry of `entries` (a Map, an array of pairs or a plain object). */
  update(entries: Map<K, V> | readonly (readonly [K, V])[] | Record<string, V>): void {
    const pairs = entries instanceof Map || Array.isArray(entries) ? entries : Object.entries(entries);
    for (const [key, value] of pairs as Iterable<readonly [K, V]>) this.#map.set(key, value);
  }

  keys(): K[] {
    return [...this.#map.keys()];
  }

  values(): V[] {
    return [...this.#map.values()];
  }

  entries(): [K, V][] {
    return [...this.#map.entries()];
  }

  clear(): void {
    this.#map.clear();
  }

  /** A snapshot as a Map. */
  toMap(): Map<K, V> {
    return new Map(this.#map);
  }
}
