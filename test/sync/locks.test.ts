import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidStateError, Lock, RLock, Semaphore, TimeoutError } from '../../src/index.js';

describe('Lock in one thread', { timeout: 30_000 }, () => {
  test('acquire, locked, release; a second acquire waits for the release', async () => {
    const lock = new Lock();
    assert.equal(await lock.acquire(), true);
    assert.equal(lock.locked(), true);
    let second = false;
    const waiting = lock.acquire().then((ok) => { second = ok; });
    await Promise.resolve();
    assert.equal(second, false);
    lock.release();
    await waiting;
    assert.equal(second, true);
    lock.release();
    assert.equal(lock.locked(), false);
  });

  test('acquire({ timeout }) resolves false when the lock stays held; timeout 0 only tries', async () => {
    const lock = new Lock();
    await lock.acquire();
    assert.equal(await lock.acquire({ timeout: 0 }), false);
    assert.equal(await lock.acquire({ timeout: 15 }), false);
    lock.release();
    assert.equal(await lock.acquire({ timeout: 0 }), true);
    lock.release();
  });

  test('many async waiters in one thread each get it in turn, one at a time', async () => {
    const lock = new Lock();
    let inside = 0;
    let most = 0;
    let count = 0;
    await Promise.all(Array.from({ length: 50 }, async () => {
      await using _held = await lock.lock();
      inside++;
      most = Math.max(most, inside);
      await Promise.resolve();
      count++;
      inside--;
    }));
    assert.equal(count, 50);
    assert.equal(most, 1);
    assert.equal(lock.locked(), false);
  });

  test('lock() returns a disposable that releases once, even if released early', async () => {
    const lock = new Lock();
    {
      using held = await lock.lock();
      assert.equal(lock.locked(), true);
      held.release();
      assert.equal(lock.locked(), false);
    }
    assert.equal(lock.locked(), false, 'disposal after an early release released nothing twice');
  });

  test('lock({ timeout }) rejects with TimeoutError', async () => {
    const lock = new Lock();
    await lock.acquire();
    await assert.rejects(lock.lock({ timeout: 5 }), (error) => error instanceof TimeoutError && /Lock\.lock\(\) timed out after 5 ms/.test(error.message));
  });

  test('releasing an unlocked Lock is an InvalidStateError', () => {
    assert.throws(() => new Lock().release(), (error) => error instanceof InvalidStateError && error.message === 'release() of an unlocked Lock');
  });

  test('a signal abandons the wait; the next release still reaches a live waiter', async () => {
    const lock = new Lock();
    await lock.acquire();
    const controller = new AbortController();
    const abandoned = lock.acquire({ signal: controller.signal });
    const live = lock.acquire();
    controller.abort(new Error('gave up'));
    await assert.rejects(abandoned, { message: 'gave up' });
    lock.release();
    assert.equal(await live, true);
    lock.release();
  });
});

describe('RLock in one thread', { timeout: 30_000 }, () => {
  test('the owner re-enters and must release as many times', async () => {
    const lock = new RLock();
    assert.equal(await lock.acquire(), true);
    assert.equal(await lock.acquire({ timeout: 0 }), true);
    assert.equal(lock.isOwned(), true);
    lock.release();
    assert.equal(lock.locked(), true);
    lock.release();
    assert.equal(lock.locked(), false);
    assert.equal(lock.isOwned(), false);
  });

  test('releasing an RLock not held is an InvalidStateError', () => {
    assert.throws(() => new RLock().release(), (error) => error instanceof InvalidStateError && /does not hold/.test(error.message));
  });
});

describe('Semaphore in one thread', { timeout: 30_000 }, () => {
  test('counts down, waits at zero, release(n) lets n in', async () => {
    const semaphore = new Semaphore(2);
    assert.equal(await semaphore.acquire(), true);
    assert.equal(await semaphore.acquire(), true);
    assert.equal(semaphore.value, 0);
    assert.equal(await semaphore.acquire({ timeout: 10 }), false);
    const waiters = [semaphore.acquire(), semaphore.acquire(), semaphore.acquire({ timeout: 50 })];
    semaphore.release(2);
    assert.deepEqual(await Promise.all(waiters), [true, true, false]);
    semaphore.release(3);
    assert.equal(semaphore.value, 3);
  });

  test('lock() holds one unit', async () => {
    const semaphore = new Semaphore(1);
    {
      await using _held = await semaphore.lock();
      assert.equal(semaphore.value, 0);
    }
    assert.equal(semaphore.value, 1);
  });

  test('bad counts are refused with what came', () => {
    assert.throws(() => new Semaphore(-1), { name: 'RangeError', message: 'Expected `value` to be a non-negative integer, got -1 (number)' });
    assert.throws(() => new Semaphore('2' as unknown as number), { name: 'TypeError', message: 'Expected `value` to be a non-negative integer, got "2" (string)' });
    assert.throws(() => new Semaphore(1).release(0), { name: 'RangeError', message: 'Expected `n` to be a positive integer, got 0 (number)' });
  });
});

describe('wait options are validated', { timeout: 30_000 }, () => {
  test('a negative, infinite or non-number timeout, a non-object options, a non-signal', async () => {
    const lock = new Lock();
    await assert.rejects(lock.acquire({ timeout: -1 }), { name: 'RangeError', message: 'Expected `timeout` to be a non-negative finite number of milliseconds, got -1 (number)' });
    await assert.rejects(lock.acquire({ timeout: Infinity }), { name: 'RangeError' });
    await assert.rejects(lock.acquire({ timeout: '5' as unknown as number }), { name: 'TypeError', message: 'Expected `timeout` to be a non-negative finite number of milliseconds, got "5" (string)' });
    await assert.rejects(lock.acquire(5 as unknown as object), { name: 'TypeError', message: 'Expected `options` to be an object such as { timeout: 100 }, got 5 (number)' });
    await assert.rejects(lock.acquire({ signal: 'stop' as unknown as AbortSignal }), { name: 'TypeError', message: 'Expected `signal` to be an AbortSignal, got "stop" (string)' });
    assert.equal(lock.locked(), false, 'a refused call took nothing');
  });
});
