// What a Bag plans and refuses, whatever runs it: tasks per partition, explain(), closures,
// keys, options, streaming's bounded pull-ahead, and the partition task's own checks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bag, GreenPool, InlineExecutor, InvalidStateError, type Executor } from '../../src/index.js';
import { partitionOf } from '../../src/collections/keys.js';
import partitionTasks from '../../src/collections/partition-task.js';
import t from '../fixtures/collection-tasks.js';

/** An executor that counts what is submitted to it. */
function counting(inner: Executor): Executor & { submitted: number } {
  const counter = Object.create(inner) as Executor & { submitted: number };
  counter.submitted = 0;
  counter.submit = ((...args: Parameters<Executor['submit']>) => {
    counter.submitted++;
    return inner.submit(...args);
  }) as Executor['submit'];
  return counter;
}

describe('the plan', () => {
  test('consecutive narrow steps run as one task per partition; a shuffle adds one per reduce partition', async () => {
    const executor = counting(new InlineExecutor());
    const numbers = Array.from({ length: 40 }, (_, i) => i);
    await bag(numbers, { partitions: 4 }).map(t.square).filter(t.isEven).map(t.scale, 2).collect(executor);
    assert.equal(executor.submitted, 4);
    executor.submitted = 0;
    await bag(numbers, { partitions: 4 }).map(t.byResidue, 5).reduceByKey(t.add, { partitions: 3 }).map(t.first).collect(executor);
    assert.equal(executor.submitted, 4 + 3);
  });

  test('explain() prints the stages, their tasks and fused steps, and the merge', () => {
    const plan = bag(['a b', 'c'], { partitions: 2 }).flatMap(t.words).map(t.withOne).reduceByKey(t.add, { partitions: 3 }).explain();
    assert.equal(plan, [
      'Bag plan: 2 stages, 1 shuffle; one task per partition and stage, its steps fused',
      'stage 1: 2 partitions of an array of 2 items; 2 tasks',
      '  read its items -> flatMap(words) -> map(withOne) -> combine values by key with add, then cut the pairs into 3 buckets by a hash of the key',
      'stage 2: 3 partitions, each given one bucket from every partition of stage 1; 3 tasks',
      '  merge its buckets by key with add -> return its values',
      'caller: concatenate the partitions\' values in partition order',
    ].join('\n'));
    async function* lines() { yield 'x'; }
    const streamed = bag(lines(), { partitionSize: 50 }).map(t.scale as never, 2).take(3).explain();
    assert.match(streamed, /stage 1: partitions of 50 items streamed from an async iterable; one task per partition as they stream/);
    assert.match(streamed, /map\(scale, 2\) -> return its first 3 values/);
    assert.match(streamed, /caller: take partitions in order until 3 values have come, then cancel the rest/);
  });

  test('a closure is refused, saying why', () => {
    const numbers = bag([1, 2, 3]);
    assert.throws(() => numbers.map(((x: number) => x * 2) as never), {
      name: 'TypeError',
      message: /^Expected the map\(\) step to be a task from defineTasks\(\), got a function \(anonymous\): map\(\) runs its step in worker threads, child processes and other hosts, which import a step by module and name; a closure or plain function cannot travel there/,
    });
    assert.throws(() => numbers.filter('isEven' as never), /Expected the filter\(\) step to be a task from defineTasks\(\), got "isEven" \(string\)$/);
    assert.throws(() => numbers.reduce(t.asyncAdd), /Expected the reduce\(\) combiner asyncAdd to be synchronous/);
  });

  test('keys must be primitives: an object key is refused with the reason', async () => {
    await assert.rejects(bag([1, 2]).map(t.keyObject).reduceByKey(t.add).collect(new InlineExecutor()),
      /Expected a key of reduceByKey to be a string, number, bigint, boolean, null or undefined, got an object Object: keys are compared by value/);
    await assert.rejects(bag([1, 2]).map(t.square).groupByKey().collect(new InlineExecutor()), /Expected each value of groupByKey to be a \[key, value\] pair, got 1 \(number\)/);
  });

  test('keys hash by value: equal keys land in one partition, every partition in range', () => {
    for (const key of ['word', 7, -3, 2 ** 40, 1.5, true, null, undefined, 10n, '']) {
      const p = partitionOf(key, 13);
      assert.ok(Number.isInteger(p) && p >= 0 && p < 13, `${String(key)} -> ${p}`);
    }
    assert.equal(partitionOf(-0, 13), partitionOf(0, 13));
    assert.equal(partitionOf('ab'.repeat(2), 13), partitionOf('abab', 13));
    const spread = new Set(Array.from({ length: 200 }, (_, i) => partitionOf(i, 8)));
    assert.equal(spread.size, 8);
  });

  test('empty bags: collect [], count 0, fold gives zero, reduce rejects', async () => {
    const executor = new InlineExecutor();
    const empty = bag([] as number[]).map(t.square);
    assert.deepEqual(await empty.collect(executor), []);
    assert.equal(await empty.count().compute(executor), 0);
    assert.equal(await empty.fold(0, t.add).compute(executor), 0);
    await assert.rejects(empty.reduce(t.add).compute(executor), /reduce\(\) of an empty Bag has nothing to reduce/);
    assert.deepEqual(await empty.reduceByKey(t.add as never).collect(executor), []);
  });

  test('an array can be computed again; a one-shot iterator cannot', async () => {
    const executor = new InlineExecutor();
    const numbers = bag([1, 2, 3]).map(t.square);
    assert.deepEqual(await numbers.collect(executor), await numbers.collect(executor));
    function* once() { yield 1; yield 2; }
    const oneShot = bag(once()).map(t.square);
    assert.deepEqual(await oneShot.collect(executor), [1, 4]);
    await assert.rejects(oneShot.collect(executor), (error: unknown) => error instanceof InvalidStateError && /one-shot iterator/.test(error.message));
  });

  test('options are checked with exact messages', async () => {
    async function* stream() { yield 1; }
    assert.throws(() => bag(stream(), { partitions: 2 }), /Expected `partitionSize` rather than `partitions` for an async iterable: its length is unknown/);
    assert.throws(() => bag([1], { partitions: 2, partitionSize: 2 }), /Expected `partitions` or `partitionSize`, not both/);
    assert.throws(() => bag([1], { partitions: 0 }), /Expected `partitions` to be a positive integer, got 0 \(number\)/);
    assert.throws(() => bag(42 as never), /Expected `items` to be an array, an iterable or an async iterable, got 42 \(number\)/);
    assert.throws(() => bag([1]).take(-1), /Expected `count` to be a non-negative integer, got -1 \(number\)/);
    await assert.rejects(bag([1]).collect({} as Executor), /Expected `executor` to be an Executor/);
    await assert.rejects(bag([1]).collect(new InlineExecutor(), { retries: 1.5 }), /Expected `retries` to be a non-negative integer, got 1.5 \(number\)/);
  });

  test('a stream is pulled only as partitions finish: never more than concurrency + 1 partitions ahead', async () => {
    const size = 20;
    const concurrency = 2;
    let pulled = 0;
    let worst = 0;
    function* numbers() { for (let i = 0; i < 1000; i++) { pulled++; yield i; } }
    const executor = new GreenPool({ size: 4 });
    const count = await bag(numbers(), { partitionSize: size }).map(t.halveLater).count().compute(executor, {
      concurrency,
      onProgress: (event) => { if (event.type === 'done') worst = Math.max(worst, pulled - event.done * size); },
    });
    assert.equal(count, 1000);
    assert.ok(worst <= (concurrency + 1) * size, `${worst} items were pulled ahead of the finished partitions`);
    await executor.shutdown();
  });

  test('steps that break their contract fail with a clear error', async () => {
    const executor = new InlineExecutor();
    await assert.rejects(bag([1]).map(t.promised).collect(executor), /the map step promised returned a promise but is not an async function: declare it async/);
    await assert.rejects(bag([1]).flatMap(t.square).collect(executor), /Expected the flatMap step square to return an iterable \(an array or a generator\), got 1 \(number\)/);
  });

  test('an onProgress that throws fails the computation with its error', async () => {
    const broken = new Error('the progress listener broke');
    await assert.rejects(bag([1, 2, 3], { partitions: 3 }).map(t.square).collect(new InlineExecutor(), { onProgress: () => { throw broken; } }), (error) => error === broken);
  });

  test('the partition task checks what it is sent', () => {
    assert.throws(() => partitionTasks.runPartition([['x', 1, 'y']] as never, {} as never, []), /Expected the partition's tasks to be a list of \[name, moduleUrl, key\]/);
    const spec = { read: { from: 'items' }, steps: [{ op: 'map', task: 3, args: [] }], write: { to: 'collect' }, async: false };
    assert.throws(() => partitionTasks.runPartition([], spec as never, []), /Expected `partition spec step.task` to be a stage spec made by a Bag, got 3 \(number\)/);
  });
});
