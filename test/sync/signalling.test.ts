import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Barrier, BrokenBarrierError, Condition, Event, InvalidStateError, Lock, TimeoutError } from '../../src/index.js';

describe('Event in one thread', { timeout: 30_000 }, () => {
  test('set wakes every waiter; clear makes later waits wait; a timeout resolves false', async () => {
    const event = new Event();
    assert.equal(event.isSet(), false);
    const waiters = [event.wait(), event.wait(), event.wait({ timeout: 10_000 })];
    event.set();
    assert.deepEqual(await Promise.all(waiters), [true, true, true]);
    assert.equal(await event.wait({ timeout: 0 }), true);
    event.clear();
    assert.equal(event.isSet(), false);
    assert.equal(await event.wait({ timeout: 10 }), false);
  });
});

describe('Condition in one thread', { timeout: 30_000 }, () => {
  test('notify wakes one waiter, notifyAll the rest; each gets the lock back', async () => {
    const condition = new Condition();
    const allWaiting = new Event();
    const firstWoken = new Event();
    let waiting = 0;
    const woken: number[] = [];
    const waiters = [1, 2, 3].map(async (n) => {
      await condition.acquire();
      if (++waiting === 3) allWaiting.set();
      await condition.wait();
      woken.push(n);
      firstWoken.set();
      condition.release();
    });
    // The third waiter set the event holding the lock; taking the lock means it is in wait().
    await allWaiting.wait();
    await condition.acquire();
    condition.notify();
    condition.release();
    await firstWoken.wait();
    await condition.acquire();
    assert.equal(woken.length, 1, 'notify() woke exactly one');
    condition.notifyAll();
    condition.release();
    await Promise.all(waiters);
    assert.deepEqual(woken.sort(), [1, 2, 3]);
  });

  test('waitFor returns the predicate value, or its falsy value at the timeout', async () => {
    const condition = new Condition();
    let items = 0;
    const consumer = (async () => {
      await using _held = await condition.lock();
      return await condition.waitFor(() => items >= 3 && items);
    })();
    for (let i = 0; i < 3; i++) {
      await using _held = await condition.lock();
      items++;
      condition.notifyAll();
    }
    assert.equal(await consumer, 3);
    await using _held = await condition.lock();
    assert.equal(await condition.waitFor(() => items > 10, { timeout: 10 }), false);
  });

  test('wait() times out with false and holds the lock again', async () => {
    const lock = new Lock();
    const condition = new Condition(lock);
    await condition.acquire();
    assert.equal(await condition.wait({ timeout: 5 }), false);
    assert.equal(lock.locked(), true);
    condition.release();
  });

  test('wait and notify without the lock are InvalidStateErrors; a bad lock is a TypeError', async () => {
    const condition = new Condition();
    await assert.rejects(condition.wait(), (error) => error instanceof InvalidStateError && error.message === 'wait() on a Condition whose lock is not held');
    assert.throws(() => condition.notify(), (error) => error instanceof InvalidStateError && error.message === 'notify() on a Condition whose lock is not held');
    assert.throws(() => new Condition({} as Lock), { name: 'TypeError', message: 'Expected `lock` to be a Lock or an RLock, got an object Object' });
    await assert.rejects(condition.waitFor('ready' as unknown as () => boolean), { name: 'TypeError' });
  });
});

describe('Barrier in one thread', { timeout: 30_000 }, () => {
  test('parties meet, get distinct indexes, and the barrier is reusable', async () => {
    const barrier = new Barrier(3);
    for (let round = 0; round < 3; round++) {
      const indexes = await Promise.all([barrier.wait(), barrier.wait(), barrier.wait()]);
      assert.deepEqual(indexes.sort(), [0, 1, 2]);
    }
    assert.equal(barrier.parties, 3);
    assert.equal(barrier.broken, false);
  });

  test('a timeout breaks it: TimeoutError for the party that waited, BrokenBarrierError for the others', async () => {
    const barrier = new Barrier(3);
    const patient = barrier.wait();
    const hasty = barrier.wait({ timeout: 10 });
    await assert.rejects(hasty, (error) => error instanceof TimeoutError && /the barrier is now broken/.test(error.message));
    await assert.rejects(patient, BrokenBarrierError);
    assert.equal(barrier.broken, true);
    await assert.rejects(barrier.wait(), BrokenBarrierError);
    await barrier.reset();
    assert.equal(barrier.broken, false);
    assert.deepEqual((await Promise.all([barrier.wait(), barrier.wait(), barrier.wait()])).sort(), [0, 1, 2]);
  });

  test('abort breaks the waiting parties; reset breaks them but leaves it usable', async () => {
    const barrier = new Barrier(2);
    const waiting = barrier.wait();
    assert.equal(barrier.nWaiting, 1);
    await barrier.abort();
    await assert.rejects(waiting, BrokenBarrierError);
    await barrier.reset();
    const again = barrier.wait();
    await barrier.reset();
    await assert.rejects(again, BrokenBarrierError);
    assert.equal(barrier.broken, false);
    assert.deepEqual((await Promise.all([barrier.wait(), barrier.wait()])).sort(), [0, 1]);
  });

  test('parties must be a positive integer', () => {
    assert.throws(() => new Barrier(0), { name: 'RangeError', message: 'Expected `parties` to be a positive integer, got 0 (number)' });
  });
});
