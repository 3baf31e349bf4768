import { isPromiseLike } from '../core/invoke.js';
import { describe } from '../core/validate.js';
import { checkKey, checkPair, partitionOf, type Key } from './keys.js';
import type { ReadSpec, WriteSpec } from './spec.js';

/**
 * The two ends of a partition task, on the worker: what it reads (its items, or the buckets a
 * shuffle brought it, merged by key) and what it writes (its items, a count, a partial
 * reduction, or the pairs it combined by key, cut into one bucket per reduce partition).
 * Combiners (reduceByKey's, reduce's, fold's) run here, on each partition, so that a shuffle
 * moves one pair per key and partition, never one per value.
 */
export type Fn = (...args: any[]) => unknown;

/** Where a step sends its values; `push` answers false once no more are wanted (take). */
export interface Sink {
  push(value: unknown): boolean;
  end(): void;
}

export interface Writer extends Sink {
  result(): unknown;
}

/** A combiner: synchronous, since it runs once per value inside a Map update. */
export function combiner(fn: Fn, name: string): (a: unknown, b: unknown) => unknown {
  return (a, b) => {
    const out = fn(a, b);
    if (isPromiseLike(out)) throw new TypeError(`the combiner ${name} returned a promise: combiners (reduce, fold, reduceByKey) must be synchronous`);
    return out;
  };
}

export function createWriter(spec: WriteSpec, fns: Fn[], names: string[]): Writer {
  switch (spec.to) {
    case 'collect': {
      const items: unknown[] = [];
      return { push: (v) => (items.push(v), true), end() {}, result: () => items };
    }
    case 'take': {
      const items: unknown[] = [];
      const { count } = spec;
      return { push: (v) => (items.length < count && items.push(v), items.length < count), end() {}, result: () => items };
    }
    case 'count': {
      let count = 0;
      return { push: () => (count++, true), end() {}, result: () => count };
    }
    case 'reduce': {
      const combine = combiner(fns[spec.task]!, names[spec.task]!);
      let has = false;
      let acc: unknown;
      // An empty partition has nothing to reduce: [] rather than a value, so the caller can tell.
      return { push: (v) => ((acc = has ? combine(acc, v) : v), (has = true)), end() {}, result: () => (has ? [acc] : []) };
    }
    case 'fold': {
      const combine = combiner(fns[spec.task]!, names[spec.task]!);
      let acc = spec.zero;
      return { push: (v) => ((acc = combine(acc, v)), true), end() {}, result: () => acc };
    }
    case 'countByKey':
    case 'countByValue': {
      const counts = new Map<Key, number>();
      const byKey = spec.to === 'countByKey';
      const push = (v: unknown) => {
        const key = byKey ? checkPair(v, 'countByKey')[0] : checkKey(v, 'countByValue');
        counts.set(key, (counts.get(key) ?? 0) + 1);
        return true;
      };
      return { push, end() {}, result: () => flatten(counts) };
    }
    case 'shuffle':
      return shuffleWriter(spec.kind, spec.partitions, spec.task === undefined ? undefined : combiner(fns[spec.task]!, names[spec.task]!));
  }
}

function shuffleWriter(kind: 'reduceByKey' | 'groupByKey' | 'distinct', partitions: number, combine: ((a: unknown, b: unknown) => unknown) | undefined): Writer {
  if (kind === 'distinct') {
    const keys = new Set<Key>();
    return { push: (v) => (keys.add(checkKey(v, 'distinct')), true), end() {}, result: () => bucketKeys(keys, partitions) };
  }
  const byKey = new Map<Key, unknown>();
  // Indexing rather than destructuring: this runs once per value, and `[a, b] = pair` iterates.
  const push = kind === 'reduceByKey'
    ? (v: unknown) => {
      const pair = checkPair(v, 'reduceByKey');
      const key = pair[0];
      const old = byKey.get(key);
      byKey.set(key, old !== undefined || byKey.has(key) ? combine!(old, pair[1]) : pair[1]);
      return true;
    }
    : (v: unknown) => {
      const pair = checkPair(v, 'groupByKey');
      const list = byKey.get(pair[0]) as unknown[] | undefined;
      if (list) list.push(pair[1]);
      else byKey.set(pair[0], [pair[1]]);
      return true;
    };
  return { push, end() {}, result: () => bucketPairs(byKey, partitions) };
}

function flatten(map: Map<Key, unknown>): unknown[] {
  const out: unknown[] = [];
  for (const [key, value] of map) out.push(key, value);
  return out;
}

function bucketPairs(map: Map<Key, unknown>, partitions: number): unknown[][] {
  const buckets = Array.from({ length: partitions }, () => [] as unknown[]);
  for (const [key, value] of map) buckets[partitionOf(key, partitions)]!.push(key, value);
  return buckets;
}

function bucketKeys(keys: Set<Key>, partitions: number): unknown[][] {
  const buckets = Array.from({ length: partitions }, () => [] as unknown[]);
  for (const key of keys) buckets[partitionOf(key, partitions)]!.push(key);
  return buckets;
}

/** What a partition task reads: its items, or the buckets a shuffle brought, merged by key. */
export function readInput(spec: ReadSpec, input: unknown, fns: Fn[], names: string[]): Iterable<unknown> {
  if (!Array.isArray(input)) throw new TypeError(`Expected a partition's input to be an array, got ${describe(input)}`);
  if (spec.from === 'items') return input;
  for (const bucket of input) {
    if (!Array.isArray(bucket)) throw new TypeError(`Expected a shuffle bucket to be an array, got ${describe(bucket)}`);
  }
  const buckets = input as unknown[][];
  if (spec.from === 'distinct') {
    const keys = new Set<Key>();
    for (const bucket of buckets) for (const key of bucket) keys.add(checkKey(key, 'distinct'));
    return keys;
  }
  const merged = new Map<Key, unknown>();
  const combine = spec.from === 'reduceByKey' ? combiner(fns[spec.task]!, names[spec.task]!) : undefined;
  for (const bucket of buckets) {
    for (let i = 0; i + 1 < bucket.length; i += 2) {
      const key = checkKey(bucket[i], spec.from);
      const value = bucket[i + 1];
      const old = merged.get(key);
      const seen = old !== undefined || merged.has(key);
      if (combine) merged.set(key, seen ? combine(old, value) : value);
      else if (seen) (old as unknown[]).push(...(value as unknown[]));
      else merged.set(key, [...(value as unknown[])]);
    }
  }
  return pairs(merged);
}

function* pairs(map: Map<Key, unknown>): Generator<[Key, unknown]> {
  for (const entry of map) yield entry;
}
