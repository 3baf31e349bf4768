import { describe } from '../core/validate.js';

/**
 * Keys of reduceByKey, groupByKey, countByKey and distinct. They are compared by value in every
 * worker (a Map's SameValueZero) and hashed to pick the reduce partition, so they must mean the
 * same thing after crossing a thread, a process or a host: primitives only. An object key would
 * be a different object on each side of a boundary, and equal to nothing.
 */
export type Key = string | number | bigint | boolean | null | undefined;

export function checkKey(key: unknown, op: string): Key {
  const type = typeof key;
  if (type === 'string' || type === 'number' || type === 'boolean' || type === 'bigint' || key === null || key === undefined) return key as Key;
  throw new TypeError(
    `Expected a key of ${op} to be a string, number, bigint, boolean, null or undefined, got ${describe(key)}: ` +
    'keys are compared by value in every worker, and an object would be a new object, equal to nothing, after crossing a thread, process or host',
  );
}

/** A [key, value] pair of a keyed operation; the key checked. */
export function checkPair(pair: unknown, op: string): readonly [Key, unknown] {
  if (!Array.isArray(pair) || pair.length !== 2) {
    throw new TypeError(`Expected each value of ${op} to be a [key, value] pair, got ${describe(pair)}`);
  }
  checkKey(pair[0], op);
  return pair as unknown as readonly [Key, unknown];
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over UTF-16 code units: the same in every worker, unlike anything keyed by identity. */
function hashString(text: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), FNV_PRIME);
  return hash;
}

/** MurmurHash3's finalizer: every input bit reaches the low bits that `% partitions` keeps. */
function mix(hash: number): number {
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

/** Which of `partitions` reduce partitions a key goes to: a hash of its value, never of its identity. */
export function partitionOf(key: Key, partitions: number): number {
  if (partitions === 1) return 0;
  let hash: number;
  if (typeof key === 'string') hash = hashString(key);
  else if (typeof key === 'number' && Number.isInteger(key) && Math.abs(key) <= 0x7fffffff) hash = key | 0;
  else hash = hashString(`${typeof key}:${String(key)}`);
  return mix(hash) % partitions;
}
