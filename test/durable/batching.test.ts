// What batching adds to the broker-backed cluster: the calls submitted to one queue in one tick
// travel as a few batch messages (submit-batches.ts), each task of a batch still its own (its
// outcome, retries, cancellation), and a batch is acknowledged only once every task in it is
// closed (parcel.ts). Cross-process cases run on Redis with real `weft worker --broker`
// processes; the fleet is asked for its figures first, so batch sizes follow its prefetch.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { CancelledError, ClusterExecutor } from '../../src/index.js';
import { removeQueues } from '../../src/broker/remove-queues.js';
import { Codec } from '../../src/remote/codec.js';
import { batchSizes } from '../../src/cluster/durable/submit-batches.js';
import { MAX_BATCH, checkBatchMessage } from '../../src/cluster/durable/messages.js';
import tasks from '../fixtures/tasks.js';
import rel from '../fixtures/reliability-tasks.js';
import { firstProgress, markerWritten, tempDir } from '../helpers.js';
import { freshQueue, startWorker, type FleetWorker } from './fleet.js';
import { Ledger, REL_TASKS, SettleLog, redisQueueLength, waitUntil, within, wrongValues } from './reliability-helpers.js';

const REDIS = 'redis://127.0.0.1:6379';
/** Redelivery of a dead worker's messages after 1 s, so the kill test is short. */
const REDIS_FAST = `${REDIS}?redeliverAfter=1000`;

test('batch sizes are guided: they cover every task, shrink towards the end, and stay within the limit', () => {
  for (const [n, held] of [[1, 4], [10_000, 8], [3000, 8], [40, 1], [7, 100]] as const) {
    const sizes = batchSizes(n, held);
    assert.equal(sizes.reduce((a, b) => a + b, 0), n, `sizes of ${n} for ${held} held add up`);
    assert.ok(sizes.every((size, i) => size >= 1 && size <= MAX_BATCH && (i === 0 || size <= sizes[i - 1]!)), `sizes of ${n}: ${sizes.join(',')}`);
    assert.equal(sizes.at(-1), 1, 'the last piece is a single task');
    assert.ok(sizes.length >= Math.min(n, 2 * held), `${n} tasks for ${held} held messages make at least ${Math.min(n, 2 * held)} pieces: ${sizes.length}`);
  }
  assert.deepEqual(batchSizes(8, 1), [4, 2, 1, 1]);
  assert.deepEqual(batchSizes(11, 1), [6, 3, 1, 1]);
  assert.deepEqual(batchSizes(100, 1, 10), [10, 10, 10, 10, 10, 10, 10, 10, 10, 5, 3, 1, 1]);
});

test('batchSize must be a positive integer, checked before anything connects', () => {
  for (const bad of [0, -1, 1.5, '8']) {
    assert.throws(() => new ClusterExecutor({ broker: REDIS, batchSize: bad as number }), /batchSize/, `batchSize ${String(bad)}`);
  }
});

describe('batches on Redis, with worker processes', () => {
  const queues: string[] = [];
  const clusters: ClusterExecutor[] = [];
  const workers: FleetWorker[] = [];
  const fresh = (label: string) => {
    const queue = freshQueue(label);
    queues.push(queue, `${queue}.dead`);
    return queue;
  };
  const cluster = (url: string, queue: string, options: Record<string, unknown> = {}) => {
    const c = new ClusterExecutor({ broker: url, queue, ...options });
    clusters.push(c);
    return c;
  };
  const worker = async (url: string, queue: string, concurrency: number, extra: string[] = [], tasksFile?: string) => {
    const w = await startWorker(url, { queues: [queue], concurrency, extra, ...(tasksFile ? { tasks: [tasksFile] } : {}) });
    workers.push(w);
    await w.ready;
    return w;
  };
  after(async () => {
    await Promise.all(clusters.map((c) => c.shutdown({ cancelPending: true })));
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await removeQueues(REDIS, queues);
  });

  test('the calls of one tick travel in a few batch messages; with batchSize 1, one message each', async () => {
    const codec = new Codec();
    const redis = new Redis(REDIS);
    try {
      for (const [batchSize, most] of [[undefined, 20], [1, 40]] as const) {
        const queue = fresh('count');
        const submitter = cluster(REDIS, queue, batchSize === undefined ? {} : { batchSize });
        // No worker yet: the messages wait in the stream, where the test reads them.
        const futures = Array.from({ length: 40 }, (_, i) => submitter.submit(tasks.square, i));
        try {
          const entries = async () => (await redis.xrangeBuffer(`weft:q:${queue}`, '-', '+')).map(([, fields]) => {
            const body = codec.decode(fields[fields.findIndex((f) => f.toString() === 'm' || f.toString() === 'p') + 1]!) as Record<string, unknown>;
            return Array.isArray(body.batch) ? checkBatchMessage(body).map((t) => t.id) : [body.id as string];
          });
          await waitUntil(async () => (await entries()).flat().length === 40, 10_000, `the 40 tasks to reach the stream of ${queue}`);
          const messages = await entries();
          assert.deepEqual(messages.flat(), futures.map((f) => f.id), 'every task once, in submit order');
          assert.ok(messages.length <= most, `batchSize ${batchSize ?? 'default'}: ${messages.length} messages for 40 tasks (expected at most ${most})`);
          if (batchSize === 1) assert.equal(messages.length, 40);
          else assert.ok(messages.some((ids) => ids.length > 1), 'some message carries several tasks');
          await worker(REDIS, queue, 4);
          assert.deepEqual(await Promise.all(futures), Array.from({ length: 40 }, (_, i) => i * i));
        } finally {
          // Left unsettled (a failed assert before a worker started), they would hold shutdown.
          for (const future of futures) future.cancel();
        }
        await waitUntil(async () => (await redisQueueLength(REDIS, queue)) === 0, 10_000, `the queue ${queue} to be empty (every message acknowledged)`);
      }
    } finally {
      redis.disconnect();
    }
  });

  test('a batch whose worker is SIGKILLed mid-way: every task settles once, and only the tasks without a stored outcome run again', { timeout: 40_000 }, async () => {
    const queue = fresh('killed');
    const ledger = new Ledger(join(tempDir(), 'ledger'));
    // One slot, one message held: the first call of the tick goes alone, then a batch of 6
    // (tasks 1 to 6, see batchSizes(11, 1)), which is all the worker holds while it runs it.
    const first = await worker(REDIS_FAST, queue, 1, ['--prefetch', '1'], REL_TASKS);
    const submitter = cluster(REDIS_FAST, queue);
    assert.equal((await submitter.inspect(1000)).filter((w) => w.pid === first.pid).length, 1, 'the worker answered the status request');
    const futures = Array.from({ length: 12 }, (_, i) => submitter.submit(rel.ledgered, i, 150, ledger.path));
    const log = new SettleLog(futures);
    // Kill it once three tasks of its batch have settled: their outcomes are stored.
    await within(new Promise<void>((resolve) => futures.forEach((f) => f.onDone(() => { if (log.settled >= 3) resolve(); }))), 20_000, 'three tasks of the first batch to settle');
    first.kill('SIGKILL');
    await first.exited;
    const settledBefore = log.counts.flatMap((count, i) => (count > 0 ? [i] : []));
    const second = await worker(REDIS_FAST, queue, 2, [], REL_TASKS);
    const values = await within(Promise.all(futures), 25_000, `every future to settle after the kill (${log.settled} of 12 had)`);
    assert.deepEqual(wrongValues(values), [], 'futures with a wrong value');
    assert.deepEqual(log.notOnce(), [], 'futures that did not settle exactly once');
    const { starts } = ledger.read();
    for (const i of settledBefore) assert.equal(starts.get(i), 1, `task ${i} settled before the kill and ran again after it`);
    // Tasks 5 and 6 of the killed worker's batch had not started (one slot, 150 ms a task).
    assert.ok(!settledBefore.includes(5), `the kill came after the whole batch settled (${settledBefore.join(',')}): it proved nothing`);
    for (const i of [5, 6]) assert.equal(values[i]!.pid, second.pid, `task ${i}, of the killed worker's batch, ran on the other worker`);
    await waitUntil(async () => (await redisQueueLength(REDIS, queue)) === 0, 10_000, `the queue ${queue} to be empty`);
  });

  test('cancelling tasks of a batch: one held and not started, one still on the broker, one running', { timeout: 30_000 }, async () => {
    const queue = fresh('cancel');
    const dir = tempDir();
    await worker(REDIS, queue, 1, ['--prefetch', '1']);
    const submitter = cluster(REDIS, queue);
    await submitter.inspect(1000);
    // The first call of the tick goes alone; the next 8, for 1 held message: [1..4], [5, 6], [7], [8].
    const first = submitter.submit(tasks.square, 1);
    const futures = [
      submitter.submit(tasks.waitForAbort, join(dir, 'blocker')),
      submitter.submit(tasks.touch, join(dir, 'held')),
      submitter.submit(tasks.square, 2),
      submitter.submit(tasks.square, 3),
      submitter.submit(tasks.touch, join(dir, 'queued')),
      submitter.submit(tasks.square, 5),
      submitter.submit(tasks.square, 6),
      submitter.submit(tasks.square, 7),
    ];
    await firstProgress(futures[0]!);
    // The blocker runs; its batch-mates wait in the worker; the second batch waits on the broker.
    assert.equal(futures[1]!.cancel(), true);
    assert.equal(futures[4]!.cancel(), true);
    futures[0]!.cancel();
    assert.equal(await markerWritten(join(dir, 'blocker')), 'CancelledError', 'the running task\'s signal aborted');
    for (const i of [0, 1, 4]) await assert.rejects(futures[i]!, CancelledError);
    assert.deepEqual(await Promise.all([first, ...[2, 3, 5, 6, 7].map((i) => futures[i]!)]), [1, 4, 9, 25, 36, 49]);
    assert.equal(existsSync(join(dir, 'held')), false, 'the task cancelled while its batch was held ran');
    assert.equal(existsSync(join(dir, 'queued')), false, 'the task cancelled while its batch waited on the broker ran');
    await assert.rejects(cluster(REDIS, queue).result(futures[4]!.id), CancelledError, 'another submitter reads it as cancelled');
    await waitUntil(async () => (await redisQueueLength(REDIS, queue)) === 0, 10_000, `the queue ${queue} to be empty (both batches acknowledged)`);
  });

  test('a task of a batch that fails is retried alone; its batch-mates settle at once', { timeout: 30_000 }, async () => {
    const queue = fresh('retry');
    await worker(REDIS, queue, 4, ['--prefetch', '1']);
    const submitter = cluster(REDIS, queue);
    await submitter.inspect(1000);
    const retried: number[] = [];
    submitter.on('task-retried', (event: { attempt: number }) => retried.push(event.attempt));
    // The first call goes alone; the next 8, for 1 held message: [flaky, 1, failing, 2], [3, 4], [5], [6].
    const mates = [submitter.submit(tasks.square, 0)];
    const flaky = submitter.submit(tasks.flaky.with({ retries: 3, retryDelay: 1 }), 3);
    mates.push(submitter.submit(tasks.square, 1));
    const failing = submitter.submit(tasks.flaky.with({ retries: 1, retryDelay: 1 }), 5);
    for (let i = 2; i < 7; i++) mates.push(submitter.submit(tasks.square, i));
    assert.deepEqual(await Promise.all(mates), Array.from({ length: 7 }, (_, i) => i * i));
    assert.equal(await flaky, 3, 'it succeeded on its third attempt');
    await assert.rejects(failing, /attempt 2 failed/);
    assert.deepEqual(retried.sort(), [1, 1, 2], 'two retries of the first, one of the last');
    await waitUntil(async () => (await redisQueueLength(REDIS, queue)) === 0, 10_000, `the queue ${queue} to be empty`);
  });
});
