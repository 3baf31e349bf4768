import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Barrier, Condition, Event, Lock, Pipe, Queue, RLock, Semaphore } from '../../src/index.js';
import { inThread } from './harness.js';

/** A start gate for racing threads: [open, arrived]. */
function gate(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(8));
}

/** Opens the gate once `parties` threads are blocked at it. */
async function openGate(g: Int32Array, parties: number): Promise<void> {
  for (let arrived = Atomics.load(g, 1); arrived < parties; arrived = Atomics.load(g, 1)) {
    await Atomics.waitAsync(g, 1, arrived).value;
  }
  Atomics.store(g, 0, 1);
  Atomics.notify(g, 0);
}

describe('sync primitives across worker threads (shared memory)', { timeout: 60_000 }, () => {
  test('Lock: two threads each add 100,000 under the lock and the total is exact', async () => {
    const lock = new Lock();
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const g = gate();
    const runs = [inThread('increment', lock, counter, 100_000, g), inThread('increment', lock, counter, 100_000, g)];
    await openGate(g, 2);
    await Promise.all(runs);
    assert.equal(counter[0], 200_000);
    assert.equal(lock.locked(), false);
  });

  test('without the lock the same read-modify-write loses updates: the race is real', async () => {
    // Each attempt races two threads from a common start; one lossy attempt proves the race.
    // Bounded: a loaded machine may serialise an attempt, never all of them.
    const times = 20_000_000; // long enough (tens of ms) that the two threads overlap even on a loaded machine
    let lost = 0;
    for (let attempt = 0; attempt < 10 && lost === 0; attempt++) {
      const counter = new Int32Array(new SharedArrayBuffer(4));
      const g = gate();
      const runs = [inThread('increment', null, counter, times, g), inThread('increment', null, counter, times, g)];
      await openGate(g, 2);
      await Promise.all(runs);
      lost = 2 * times - counter[0]!;
    }
    assert.ok(lost > 0, 'no update was lost in 10 unlocked races');
  });

  test('Lock: held in a thread, the main thread cannot take it until the thread releases', async () => {
    const lock = new Lock();
    const held = new Event();
    const release = new Event();
    const done = inThread('holdLock', lock, held, release);
    assert.equal(await held.wait({ timeout: 10_000 }), true);
    assert.equal(await lock.acquire({ timeout: 0 }), false);
    const waiting = lock.acquire({ timeout: 10_000 });
    release.set();
    assert.equal(await waiting, true);
    assert.equal(await done, 'released');
    lock.release();
  });

  test('RLock: a thread holding it keeps others out', async () => {
    const lock = new RLock();
    const held = new Event();
    const release = new Event();
    const done = inThread('holdLock', lock, held, release);
    await held.wait();
    assert.equal(await lock.acquire({ timeout: 0 }), false, 'the main thread is not the owner');
    release.set();
    await done;
    assert.equal(await lock.acquire({ timeout: 0 }), true);
    lock.release();
  });

  test('Barrier: three threads pass 20 rounds together, each round after everyone arrived', async () => {
    const parties = 3;
    const rounds = 20;
    const barrier = new Barrier(parties);
    const marks = new Int32Array(new SharedArrayBuffer(4 * parties * rounds));
    const results = await Promise.all([0, 1, 2].map((party) => inThread<number[]>('barrierRounds', barrier, marks, party, parties, rounds)));
    for (let round = 0; round < rounds; round++) {
      assert.deepEqual(results.map((indexes) => indexes[round]).sort(), [0, 1, 2], `round ${round}`);
    }
    assert.equal(barrier.nWaiting, 0);
  });

  test('Condition: a thread waiting is woken by notify from the main thread', async () => {
    const condition = new Condition();
    const waiting = new Event();
    const done = inThread<boolean>('awaitNotify', condition, waiting);
    await waiting.wait();
    // The waiter set `waiting` holding the lock; getting the lock means it is inside wait().
    await condition.acquire();
    condition.notify();
    condition.release();
    assert.equal(await done, true);
  });

  test('Condition over an RLock crosses too', async () => {
    const condition = new Condition(new RLock());
    const waiting = new Event();
    const done = inThread<boolean>('awaitNotify', condition, waiting);
    await waiting.wait();
    await condition.acquire();
    condition.notifyAll();
    condition.release();
    assert.equal(await done, true);
  });

  test('Semaphore(2): three threads, never more than two inside', async () => {
    const semaphore = new Semaphore(2);
    const active = new Int32Array(new SharedArrayBuffer(8)); // [inside now, most inside]
    const entered = new Semaphore(0);
    const leave = new Event();
    const runs = [0, 1, 2].map(() => inThread<number>('semaphoreHold', semaphore, active, entered, leave));
    await entered.acquire();
    await entered.acquire();
    assert.equal(semaphore.value, 0);
    assert.equal(Atomics.load(active, 0), 2);
    assert.equal(await semaphore.acquire({ timeout: 0 }), false);
    leave.set();
    await Promise.all(runs);
    assert.equal(Atomics.load(active, 1), 2, 'two at most were inside at once');
    assert.equal(semaphore.value, 2);
  });

  test('Event: a thread waits for a set from the main thread; an unset event times out', async () => {
    const event = new Event();
    assert.equal(await inThread('waitEvent', event, 20), false);
    const waiter = inThread<boolean>('waitEvent', event, null);
    event.set();
    assert.equal(await waiter, true);
    const other = new Event();
    await inThread('setEvent', other);
    assert.equal(other.isSet(), true);
  });

  test('Queue: two producer threads, two consumer threads, one putting in batches (putMany), nothing lost or duplicated', async () => {
    const queue = new Queue<string>({ maxsize: 16 });
    const consumers = [inThread<string[]>('consume', queue), inThread<string[]>('consume', queue)];
    await Promise.all([inThread('produce', queue, 'a', 2000), inThread('produceBatches', queue, 'b', 2000, 7)]);
    queue.close();
    const got = (await Promise.all(consumers)).flat();
    assert.equal(got.length, 4000);
    assert.equal(new Set(got).size, 4000);
    for (const name of ['a', 'b']) {
      const mine = got.filter((item) => item.startsWith(`${name}:`)).map((item) => Number(item.slice(2)));
      assert.equal(mine.length, 2000);
    }
  });

  test('Queue: a get in a thread rejects with TimeoutError when nothing came', async () => {
    const message = await inThread<string>('getWithTimeout', new Queue(), 20);
    assert.equal(message, 'TimeoutError: Queue.get() timed out after 20 ms: the queue stayed empty');
  });

  test('Pipe: a thread answers on its end until the other closes', async () => {
    const [mine, theirs] = Pipe<number>();
    const echo = inThread<number>('echoDouble', theirs);
    for (let i = 1; i <= 100; i++) {
      await mine.send(i);
      assert.equal(await mine.recv({ timeout: 10_000 }), i * 2);
    }
    mine.close();
    assert.equal(await echo, 100);
  });
});
