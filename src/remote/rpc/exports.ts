import { describeObject, type ExportedShape } from './describe.js';

/**
 * The objects one side of a connection lends to the other. Id 0 is the root (what `serve`
 * exposes); other ids are objects sent by reference. An object sent several times keeps one
 * id and counts each sending; the peer's proxies each release once, and the entry goes when
 * the count reaches zero or the connection closes. Ids are never reused on a connection.
 */
export interface Exported {
  readonly target: object;
  readonly shape: ExportedShape;
  count: number;
}

export class ExportTable {
  #byId = new Map<number, Exported>();
  #byTarget = new Map<object, number>();
  #nextId = 1;

  constructor(root: object | undefined) {
    if (root) this.#byId.set(0, { target: root, shape: describeObject(root), count: Infinity });
  }

  get(id: number): Exported | undefined {
    return this.#byId.get(id);
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Lends `target` once more; returns its id and shape. */
  add(target: object): [number, Exported] {
    let id = this.#byTarget.get(target);
    let entry = id === undefined ? undefined : this.#byId.get(id);
    if (id === undefined || !entry) {
      id = this.#nextId++;
      entry = { target, shape: describeObject(target), count: 0 };
      this.#byId.set(id, entry);
      this.#byTarget.set(target, id);
    }
    entry.count++;
    return [id, entry];
  }

  /** The peer dropped `count` proxies of `id`. */
  release(id: number, count: number): void {
    const entry = this.#byId.get(id);
    if (!entry || id === 0) return;
    entry.count -= count;
    if (entry.count <= 0) {
      this.#byId.delete(id);
      this.#byTarget.delete(entry.target);
    }
  }

  clear(): void {
    this.#byId.clear();
    this.#byTarget.clear();
  }
}
