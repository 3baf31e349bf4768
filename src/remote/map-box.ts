import { MAX_NESTING } from './body-check.js';

/**
 * Plain objects travel as MessagePack maps (what every MessagePack library reads), so a `Map`
 * needs a mark of its own: before a value is packed, each Map inside it is swapped for a MapBox,
 * which the codec writes as extension 0x6d holding `[key1, value1, key2, value2, ...]`.
 *
 * The walk copies nothing unless it meets a Map: arrays and objects on the path to a Map are
 * shallow-copied, everything else is the caller's own value. It looks inside arrays, plain
 * objects, class instances (which MessagePack writes as maps of their own properties) and Sets,
 * and not inside values the codec writes itself (dates, binary, errors, references).
 */
export class MapBox {
  constructor(readonly map: ReadonlyMap<unknown, unknown>, readonly depth: number) {}

  /** The entries, flattened, with Maps inside keys and values boxed in turn. */
  flatten(): unknown[] {
    const out = new Array<unknown>(this.map.size * 2);
    let i = 0;
    for (const [key, value] of this.map) {
      out[i++] = boxMaps(key, this.depth + 1);
      out[i++] = boxMaps(value, this.depth + 1);
    }
    return out;
  }
}

/** Nesting deeper than this is left alone: the codec refuses to send such a value anyway. */
const MAX_DEPTH = MAX_NESTING;

/** Classes whose instances the walk never enters; the codec adds its own (references). */
export const opaqueClasses: Function[] = [Date, RegExp, Error, ArrayBuffer, MapBox];

export function boxMaps(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  const constructor = (value as object).constructor;
  // The common shapes first: this runs on every frame sent.
  if (constructor === Object) return boxProperties(value as Record<string, unknown>, depth);
  if (constructor === Array) return boxArray(value as unknown[], depth);
  if (value instanceof Map) return new MapBox(value, depth);
  if (ArrayBuffer.isView(value)) return value;
  if (value instanceof Set) return boxSet(value, depth);
  for (const Class of opaqueClasses) if (value instanceof Class) return value;
  return boxProperties(value as Record<string, unknown>, depth);
}

function boxProperties(record: Record<string, unknown>, depth: number): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    const item = record[key];
    if (typeof item !== 'object' || item === null || !Object.hasOwn(record, key)) continue;
    const boxed = boxMaps(item, depth + 1);
    if (boxed !== item) (copy ??= { ...record })[key] = boxed;
  }
  return copy ?? record;
}

function boxArray(array: unknown[], depth: number): unknown[] {
  let copy: unknown[] | undefined;
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    if (typeof item !== 'object' || item === null) continue;
    const boxed = boxMaps(item, depth + 1);
    if (boxed !== item) (copy ??= array.slice())[i] = boxed;
  }
  return copy ?? array;
}

function boxSet(set: Set<unknown>, depth: number): Set<unknown> {
  let changed = false;
  const items = [...set].map((item) => {
    const boxed = boxMaps(item, depth + 1);
    if (boxed !== item) changed = true;
    return boxed;
  });
  return changed ? new Set(items) : set;
}
