import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Barrier, Condition, Event, Lock, Queue, Semaphore, ThreadPool } from '../../src/index.js';
import tasks from '../fixtures/sync-tasks.js';

// The primitives as task arguments of a ThreadPool: each worker operates on the same memory.
describe('sync primitives through ThreadPool', { timeout: 60_000 }, () => {
  test('Lock: two tasks each add 100,000 under the lock and the total is exact', async () => {
    await using pool = new ThreadPool({ workers: 2 });
    const lock = new Lock();
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const start = new Barrier(2); // both loops run at once, one per worker
    await Promise.all([pool.submit(tasks.increment, lock, counter, 100_000, start), pool.submit(tasks.increment, lock, counter, 100_000, start)]);
    assert.equal(counter[0], 200_000);
  });

  test('Queue: a producer task and a consumer task, nothing lost or duplicated', async () => {
    await using pool = new ThreadPool({ workers: 2 });
    const queue = new Queue<string>({ maxsize: 4 });
    const consumer = pool.submit(tasks.consume, queue);
    assert.equal(await pool.submit(tasks.produce, queue, 'p', 1000), 1000);
    queue.close();
    assert.deepEqual(await consumer, Array.from({ length: 1000 }, (_, i) => `p:${i}`));
  });

  test('primitives inside map and starmap chunks reach every call', async () => {
    await using pool = new ThreadPool({ workers: 2 });
    const queue = new Queue<string>();
    // starmap with chunks: each argument list carries the queue; map with chunks: each item is one.
    assert.deepEqual(await pool.starmap(tasks.produce, [[queue, 'a', 2], [queue, 'b', 2], [queue, 'c', 2]], { chunksize: 2 }), [2, 2, 2]);
    const counted = await pool.map(tasks.produceOne, [queue, queue, queue], { chunksize: 3 });
    assert.deepEqual(counted, ['one', 'one', 'one']);
    queue.close();
    const items: string[] = [];
    for await (const item of queue) items.push(item);
    assert.deepEqual(items.sort(), ['a:0', 'a:1', 'b:0', 'b:1', 'c:0', 'c:1', 'one', 'one', 'one']);
  });

  test('Barrier, Condition, Event and Semaphore reach the tasks', async () => {
    await using pool = new ThreadPool({ workers: 2 });
    const barrier = new Barrier(3);
    const rounds = [pool.submit(tasks.barrierRounds, barrier, null, 0, 3, 5), pool.submit(tasks.barrierRounds, barrier, null, 1, 3, 5)];
    const mine: number[] = [];
    for (let i = 0; i < 5; i++) mine.push(await barrier.wait());
    const all = [...await Promise.all(rounds), mine];
    for (let round = 0; round < 5; round++) assert.deepEqual(all.map((r) => r[round]).sort(), [0, 1, 2]);

    const condition = new Condition();
    const waiting = new Event();
    const notified = pool.submit(tasks.awaitNotify, condition, waiting);
    await waiting.wait();
    await condition.acquire();
    condition.notify();
    condition.release();
    assert.equal(await notified, true);

    const semaphore = new Semaphore(1);
    const entered = new Semaphore(0);
    const leave = new Event();
    const holder = pool.submit(tasks.semaphoreHold, semaphore, null, entered, leave);
    await entered.acquire();
    assert.equal(await semaphore.acquire({ timeout: 0 }), false);
    leave.set();
    await holder;
    assert.equal(semaphore.value, 1);
  });
});
