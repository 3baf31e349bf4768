import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Barrier, Condition, Event, Lock, ProcessPool, Queue, Semaphore } from '../../src/index.js';
import tasks from '../fixtures/sync-tasks.js';

// The primitives as task arguments of a ProcessPool: the children call them in this process.
describe('sync primitives through ProcessPool', { timeout: 60_000 }, () => {
  test('Queue: two producers and two consumers in child processes, nothing lost or duplicated', async () => {
    await using pool = new ProcessPool({ workers: 4 });
    const queue = new Queue<string>({ maxsize: 8 });
    const consumers = [pool.submit(tasks.consume, queue), pool.submit(tasks.consume, queue)];
    await Promise.all([pool.submit(tasks.produce, queue, 'a', 300), pool.submit(tasks.produce, queue, 'b', 300)]);
    queue.close();
    const got = (await Promise.all(consumers)).flat().sort();
    const expected = ['a', 'b'].flatMap((name) => Array.from({ length: 300 }, (_, i) => `${name}:${i}`)).sort();
    assert.deepEqual(got, expected);
  });

  test('Lock, Barrier, Condition, Event and Semaphore reach the children', async () => {
    await using pool = new ProcessPool({ workers: 2 });
    const lock = new Lock();
    const held = new Event();
    const release = new Event();
    const holder = pool.submit(tasks.holdLock, lock, held, release);
    await held.wait();
    assert.equal(await lock.acquire({ timeout: 0 }), false);
    release.set();
    assert.equal(await holder, 'released');

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
    const inside = pool.submit(tasks.semaphoreHold, semaphore, null, entered, leave);
    await entered.acquire();
    assert.equal(await semaphore.acquire({ timeout: 0 }), false);
    leave.set();
    await inside;
    assert.equal(semaphore.value, 1);
  });

  test('a get in a child rejects with TimeoutError when nothing came', async () => {
    await using pool = new ProcessPool({ workers: 1 });
    assert.equal(await pool.submit(tasks.getWithTimeout, new Queue(), 20), 'TimeoutError: Queue.get() timed out after 20 ms: the queue stayed empty');
  });
});
