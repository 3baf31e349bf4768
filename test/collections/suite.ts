/**
 * What a Bag does, written once and run on every executor (as test/executor-suite.ts is for the
 * Executor contract). Every result is checked against the same computation done sequentially
 * here with plain loops. One executor serves a whole describe block: the cluster's take a
 * second to start.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bag, CancelledError, type Executor, type PartitionProgress } from '../../src/index.js';
import t from '../fixtures/collection-tasks.js';
import { markerWritten, tempDir, until } from '../helpers.js';
import { existsSync } from 'node:fs';

export interface SuiteOptions {
  /** False where one partition runs at a time (InlineExecutor): the tests that need two running are skipped. */
  parallel?: boolean;
}

const TEXT = [
  'The cat sat on the mat', "the dog's bone", 'a cat, a dog and a bird', '', 'On and on it went',
  'the end of the text', "don't stop", 'cat dog bird cat', 'mat sat hat', 'it is what it is',
];

function sequentialCounts(lines: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) for (const word of t.words(line)) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}

const sorted = <T>(values: T[]) => [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

export function collectionSuite(name: string, create: () => Executor | Promise<Executor>, options: SuiteOptions = {}): void {
  const parallel = options.parallel ?? true;
  describe(`${name}: Bag`, () => {
    let executor: Executor;
    before(async () => { executor = await create(); });
    after(() => executor.shutdown({ cancelPending: true }));

    test('the word count (flatMap, map, reduceByKey) equals a sequential count', async () => {
      const counts = bag(TEXT, { partitions: 4 }).flatMap(t.words).map(t.withOne).reduceByKey(t.add, { partitions: 3 });
      assert.deepEqual(new Map(await counts.collect(executor)), sequentialCounts(TEXT));
      assert.deepEqual(await bag(TEXT, { partitions: 3 }).flatMap(t.words).countByValue().compute(executor), sequentialCounts(TEXT));
      assert.deepEqual(await bag(TEXT).flatMap(t.words).map(t.withOne).countByKey().compute(executor), sequentialCounts(TEXT));
    });

    test('narrow steps with arguments, and the actions, equal the same steps on an array', async () => {
      const numbers = Array.from({ length: 101 }, (_, i) => i - 20);
      const expected = numbers.map((x) => x * 3 + 1).filter((x) => x % 2 === 0);
      const steps = bag(numbers, { partitions: 7 }).map(t.scale, 3, 1).filter(t.isEven);
      assert.deepEqual(await steps.collect(executor), expected);
      assert.equal(await steps.reduce(t.add).compute(executor), expected.reduce((a, b) => a + b));
      assert.equal(await steps.fold(0, t.add).compute(executor), expected.reduce((a, b) => a + b, 0));
      assert.equal(await steps.count().compute(executor), expected.length);
      assert.deepEqual(await steps.take(5).compute(executor), expected.slice(0, 5));
      // mapPartitions gets each partition whole: a sum and a length per partition, 7 partitions.
      const parts = await bag(numbers, { partitions: 7 }).mapPartitions(t.sumAndCount).collect(executor);
      assert.equal(parts.length, 7);
      assert.equal(parts.reduce((a, [sum]) => a + sum, 0), numbers.reduce((a, b) => a + b));
      assert.equal(parts.reduce((a, [, n]) => a + n, 0), numbers.length);
    });

    test('groupByKey and distinct after a shuffle equal a sequential grouping', async () => {
      const numbers = Array.from({ length: 50 }, (_, i) => (i * 7) % 23);
      const groups = await bag(numbers, { partitions: 5 }).map(t.byResidue, 4).groupByKey({ partitions: 2 }).collect(executor);
      const expected = new Map<number, number[]>();
      for (const x of numbers) expected.set(x % 4, [...(expected.get(x % 4) ?? []), x]);
      assert.deepEqual(new Map(groups.map(([k, values]) => [k, sorted(values)])), new Map([...expected].map(([k, v]) => [k, sorted(v)])));
      assert.deepEqual(sorted(await bag(numbers, { partitions: 5 }).distinct({ partitions: 3 }).collect(executor)), sorted([...new Set(numbers)]));
      // Two shuffles in a row: distinct residues' squares, summed by parity.
      const chained = await bag(numbers).distinct().map(t.square).map(t.byResidue, 2).reduceByKey(t.add).collect(executor);
      const byParity = new Map<number, number>();
      for (const x of new Set(numbers)) byParity.set((x * x) % 2, (byParity.get((x * x) % 2) ?? 0) + x * x);
      assert.deepEqual(new Map(chained), byParity);
    });

    test('generator and async steps stream through the partition', async () => {
      const expected = [3, 4].flatMap((n) => Array.from({ length: n }, (_, i) => i)).flatMap((x) => [x / 2, x / 2]);
      assert.deepEqual(await bag([3, 4], { partitions: 2 }).flatMap(t.upTo).map(t.halveLater).flatMap(t.repeatLater, 2).collect(executor), expected);
    });

    test('an async iterable streams in partitions of partitionSize', async () => {
      async function* numbers() { for (let i = 0; i < 2500; i++) yield i; }
      let expected = 0;
      for (let i = 0; i < 2500; i++) expected += i * i;
      assert.equal(await bag(numbers(), { partitionSize: 300 }).map(t.square).reduce(t.add).compute(executor), expected);
    });

    test('take() on an endless stream stops reading it and closes it', async () => {
      let closed = false;
      function* naturals() {
        try { for (let i = 0; ; i++) yield i; } finally { closed = true; }
      }
      assert.deepEqual(await bag(naturals(), { partitionSize: 10 }).map(t.square).take(25).compute(executor, { concurrency: 2 }), Array.from({ length: 25 }, (_, i) => i * i));
      assert.equal(closed, true);
    });

    test('progress: one done event per partition and stage, and what steps report', async () => {
      const events: PartitionProgress[] = [];
      const result = await bag([1, 2, 3, 4, 5, 6], { partitions: 3 }).map(t.report).map(t.byResidue, 2).reduceByKey(t.add, { partitions: 2 })
        .collect(executor, { onProgress: (event) => events.push(event) });
      assert.deepEqual(new Map(result), new Map([[0, 12], [1, 9]]));
      const done = events.filter((e) => e.type === 'done');
      assert.deepEqual(sorted(done.map((e) => `${e.stage}/${e.partition}`)), ['0/0', '0/1', '0/2', '1/0', '1/1']);
      assert.deepEqual(done.map((e) => e.type === 'done' && e.done), [1, 2, 3, 1, 2]);
      const reported = events.filter((e) => e.type === 'progress').map((e) => e.type === 'progress' && e.value);
      assert.deepEqual(sorted(reported), [1, 2, 3, 4, 5, 6]);
    });

    test('a failing step rejects the computation with its error', async () => {
      await assert.rejects(bag([1, 2, 3, 4], { partitions: 2 }).map(t.failOn, 3).collect(executor), /step failed on 3/);
    });

    test('the first failure cancels the partitions still running', { skip: !parallel && 'runs one partition at a time' }, async () => {
      const marker = join(tempDir(), 'held');
      // Partition 1 holds on 5 until its signal aborts; partition 0 fails on 1 once that has started.
      const failing = bag([0, 1, 2, 3, 4, 5, 6, 7], { partitions: 2 }).map(t.holdUntilAborted, 5, marker).map(t.failAfter, 1, `${marker}.started`);
      await assert.rejects(failing.collect(executor), /step failed on 1/);
      assert.equal(await markerWritten(marker, 10_000), 'CancelledError');
    });

    test('a failed partition is retried by the executor', async () => {
      const flaky = bag([0, 1, 2, 3], { partitions: 2 }).map(t.failFirstAttempt, 2);
      await assert.rejects(flaky.collect(executor), /first attempt failed on 2/);
      assert.deepEqual(await flaky.collect(executor, { retries: 1, retryDelay: 1 }), [0, 1, 2, 3]);
    });

    test('a signal cancels the computation and reaches the running partition', async () => {
      const marker = join(tempDir(), 'held');
      const controller = new AbortController();
      const running = bag([0, 1, 2, 3], { partitions: 2 }).map(t.holdUntilAborted, 1, marker).collect(executor, { signal: controller.signal });
      await until(() => existsSync(`${marker}.started`), 10_000, 'the partition holding on 1 to start');
      controller.abort();
      await assert.rejects(running, CancelledError);
      await markerWritten(marker, 10_000);
    });
  });
}
