// Type-level tests of Bag: this file is only type-checked (`tsc -p tsconfig.test.json`): each
// line after a ts-expect-error comment must fail to compile, and each `expectType` must match.
import { bag, defineTasks, type Bag, type Executor, type Item } from '../../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function expectType<T>(_value: T): <U>(_check: Equal<T, U> extends true ? true : never) => void {
  return () => {};
}

const t = defineTasks(import.meta.url, {
  words(line: string): string[] { return line.split(' '); },
  *chars(word: string): Generator<string> { yield* word; },
  async lengthLater(word: string): Promise<number> { return word.length; },
  withOne(word: string): [string, number] { return [word, 1]; },
  add(a: number, b: number): number { return a + b; },
  scale(x: number, factor: number, offset = 0): number { return x * factor + offset; },
  isLong(word: string, min: number): boolean { return word.length >= min; },
  sums(values: number[]): number[] { return [values.reduce((a, b) => a + b, 0)]; },
  concat(a: string, b: string): string { return a + b; },
});

declare const executor: Executor;
const lines = bag(['a b', 'c']);
expectType(lines)<Bag<string>>(true);
// flatMap: an array's items, a generator's yields
expectType(lines.flatMap(t.words))<Bag<string>>(true);
expectType(lines.flatMap(t.words).flatMap(t.chars))<Bag<string>>(true);
// map unwraps an async task's promise; extra arguments follow the task
expectType(lines.map(t.lengthLater))<Bag<number>>(true);
expectType(lines.map(t.lengthLater).map(t.scale, 2))<Bag<number>>(true);
expectType(lines.map(t.lengthLater).map(t.scale, 2, 1))<Bag<number>>(true);
expectType(lines.filter(t.isLong, 3))<Bag<string>>(true);
expectType(lines.map(t.lengthLater).mapPartitions(t.sums))<Bag<number>>(true);
// pairs: keyed operations know the key and value types
const pairs = lines.flatMap(t.words).map(t.withOne);
expectType(pairs)<Bag<[string, number]>>(true);
expectType(pairs.reduceByKey(t.add))<Bag<[string, number]>>(true);
expectType(pairs.groupByKey())<Bag<[string, number[]]>>(true);
expectType(pairs.countByKey())<Item<Map<string, number>>>(true);
expectType(lines.countByValue())<Item<Map<string, number>>>(true);
expectType(lines.distinct())<Bag<string>>(true);
// actions
expectType(lines.collect(executor))<Promise<string[]>>(true);
expectType(lines.map(t.lengthLater).reduce(t.add))<Item<number>>(true);
expectType(lines.map(t.lengthLater).fold(0, t.add).compute(executor))<Promise<number>>(true);
expectType(lines.take(3).compute(executor))<Promise<string[]>>(true);
expectType(lines.count())<Item<number>>(true);
expectType(bag((async function* () { yield 1; })(), { partitionSize: 10 }))<Bag<number>>(true);

// @ts-expect-error a step's first parameter must take the values
lines.map(t.add);
// @ts-expect-error a missing extra argument
lines.map(t.lengthLater).map(t.scale);
// @ts-expect-error an extra argument of the wrong type
lines.filter(t.isLong, 'three');
// @ts-expect-error reduceByKey needs [key, value] pairs
lines.reduceByKey(t.add);
// @ts-expect-error its combiner must take the values' type
pairs.reduceByKey(t.concat);
// @ts-expect-error reduce's combiner must take the values' type
lines.reduce(t.add);
// @ts-expect-error an action is computed, not collected
lines.count().collect(executor);
