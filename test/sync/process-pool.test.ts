import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Barrier, Event, Lock, ProcessPool, Queue, Semaphore } from '../../src/index.js';
import tasks from '../fixtures/sync-tasks.js';

// The primitives as task arguments of a ProcessPool: served by this process over each child's
// IPC channel (object-channel.ts), the same objects whichever child runs the task.
describe('sync primitives through ProcessPool', { timeout: 60_000 }, () => {
  test('Queue: a producer task and a consumer task in two children, nothing lost or duplicated', async () => {
    await using pool = new ProcessPool({ workers: 2 });
    const queue = new Queue<string>({ maxsize: 4 });
    const consumer = pool.submit(tasks.consume, queue);
    assert.equal(await pool.submit(tasks.produce, queue, 'p', 300), 300);
    queue.close();
    assert.deepEqual(await consumer, Array.from({ length: 300 }, (_, i) => `p:${i}`));
  });

  test('Lock held by a child task blocks the parent until the task releases it', async () => {
    await using pool = new ProcessPool({ workers: 1 });
    const lock = new Lock();
    const held = new Event();
    const release = new Event();
    const done = pool.submit(tasks.holdLock, lock, held, release);
    assert.equal(await held.wait(), true);
    assert.equal(await lock.acquire({ timeout: 0 }), false);
    release.set();
    assert.equal(await done, 'released');
    assert.equal(await lock.acquire({ timeout: 0 }), true);
  });

  test('Barrier and Semaphore across two children and the parent', async () => {
    await using pool = new ProcessPool({ workers: 2 });
    const barrier = new Barrier(3);
    const rounds = [pool.submit(tasks.barrierRounds, barrier, null, 0, 3, 5), pool.submit(tasks.barrierRounds, barrier, null, 1, 3, 5)];
    const mine: number[] = [];
    for (let i = 0; i < 5; i++) mine.push(await barrier.wait({ timeout: 10_000 }));
    const all = [...await Promise.all(rounds), mine];
    for (let round = 0; round < 5; round++) assert.deepEqual(all.map((r) => r[round]).sort(), [0, 1, 2]);

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
