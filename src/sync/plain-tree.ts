/**
 * Whether msgpack can carry `value` so that decoding gives exactly what a structured clone
 * would: a small tree of plain objects and arrays whose leaves are well-formed strings, numbers
 * other than -0, booleans, null and undefined. Anything else (a Map, a Date, a class instance,
 * a typed array inside, a shared or cyclic reference, a sparse array, an array with extra
 * properties, a `__proto__` key...) answers false and goes through v8.serialize instead.
 *
 * The walk stops at MAX_NODES values: a bigger tree pays v8's per-call serializer cost once for
 * many values, so the faster codec matters little there. Getters of a plain object run twice
 * (here and when packed); structured clone would run them once.
 */
const MAX_NODES = 256;
const MAX_DEPTH = 16;

export function isPlainTree(value: object): boolean {
  const walk = { nodes: 0, containers: [] as object[] };
  return plainObject(value, walk, 0);
}

interface Walk {
  nodes: number;
  /** Every object seen: a second sighting is a shared or cyclic reference, which msgpack would copy. */
  containers: object[];
}

function plainValue(value: unknown, walk: Walk, depth: number): boolean {
  if (++walk.nodes > MAX_NODES) return false;
  switch (typeof value) {
    case 'number': return value !== 0 || 1 / value > 0;
    case 'string': return (value as string & { isWellFormed(): boolean }).isWellFormed();
    case 'boolean':
    case 'undefined': return true;
    case 'object': return value === null || plainObject(value, walk, depth + 1);
    default: return false;
  }
}

function plainObject(value: object, walk: Walk, depth: number): boolean {
  if (depth > MAX_DEPTH || walk.containers.includes(value)) return false;
  walk.containers.push(value);
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === Array.prototype) {
    const array = value as unknown[];
    if (array.length > MAX_NODES) return false;
    // Holes and named properties both make the key count differ from the length.
    if (Object.keys(array).length !== array.length) return false;
    for (let i = 0; i < array.length; i++) {
      // A hole with a named property beside it passes the count: `in` tells it from undefined.
      if (array[i] === undefined && !(i in array)) return false;
      if (!plainValue(array[i], walk, depth)) return false;
    }
    return true;
  }
  if (proto !== Object.prototype && proto !== null) return false;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key === '__proto__' || !plainValue(record[key], walk, depth)) return false;
  }
  return true;
}
