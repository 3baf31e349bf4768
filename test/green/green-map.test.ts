// GreenPool.map over an array takes a shorter path than the generic map (collectInOrder); it
// must behave the same: checked against the generic path, which an iterable that is not an
// array still takes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CancelledError, InvalidStateError } from '../../src/core/errors.js';
import type { Future } from '../../src/core/future.js';
import { GreenPool } from '../../src/green/green-pool.js';
import { collectInOrder } from '../../src/green/collect-in-order.js';

/** Resolves when `release()` is called: lets a test decide the order tasks finish in. */
function gate(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

/** The same items, not as an array: the generic map's path. */
function* asIterable<T>(items: T[]): Iterable<T> {
  yield* items;
}

describe('GreenPool.map on an array', () => {
  test('results in input order whatever order they finish in, as the generic map', async () => {
    const pool = new GreenPool({ size: 3 });
    const delays = [5, 0, 3, 1, 4, 2, 0, 6];
    const task = async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ms * 10;
    };
    const fast = await pool.map(task, delays);
    const generic = await pool.map(task, asIterable(delays));
    assert.deepEqual(fast, delays.map((ms) => ms * 10));
    assert.deepEqual(fast, generic);
    assert.deepEqual(await pool.map(task, []), []);
    await pool.shutdown();
  });

  for (const [path, wrap] of [['array', <T>(items: T[]) => items], ['generic', asIterable]] as const) {
    test(`${path}: the first failure in order rejects, only once the items before it are done, and cancels the rest`, async () => {
      const pool = new GreenPool({ size: 2 });
      const first = gate();
      const started: number[] = [];
      let firstDone = false;
      const task = async (n: number) => {
        started.push(n);
        if (n === 0) {
          await first.promise;
          firstDone = true;
          return n;
        }
        if (n === 1) throw new Error('item 1 failed');
        return n;
      };
      const mapped = pool.map(task, wrap([0, 1, 2, 3]));
      let settled = false;
      mapped.catch(() => {}).finally(() => (settled = true));
      // Item 1 failed at once; item 0 still runs, so map has not given up yet.
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(settled, false, 'map settled before the item ahead of the failure was done');
      first.release();
      await assert.rejects(mapped, (error: Error) => {
        assert.equal(error.message, 'item 1 failed');
        assert.equal(firstDone, true);
        return true;
      });
      await pool.shutdown();
      // Slots freed by items 0 and 1 went to 2 and 3 before map gave up, or they were cancelled:
      // either way no item ran twice and nothing ran after shutdown.
      assert.deepEqual([...new Set(started)], started);
    });
  }

  test('a bad task throws at once; a pool that has shut down rejects, as the generic map', async () => {
    const pool = new GreenPool();
    const notATask = 42 as unknown as (x: number) => number;
    assert.throws(() => pool.map(notATask, [1]), TypeError);
    assert.throws(() => pool.map(notATask, asIterable([1])), TypeError);
    await pool.shutdown();
    await assert.rejects(pool.map(async (x: number) => x, [1]), InvalidStateError);
    await assert.rejects(pool.map(async (x: number) => x, asIterable([1])), InvalidStateError);
  });

  test('options still work (they take the generic path)', async () => {
    const pool = new GreenPool({ size: 1 });
    const never = (_: number) => new Promise(() => {});
    await assert.rejects(pool.map(never, [1, 2], { timeout: 20 }), /did not finish within 20 ms/);
    await pool.shutdown({ wait: false, cancelPending: true });
  });
});

describe('collectInOrder', () => {
  test('cancels every future after the first failure, and leaves those before it alone', async () => {
    const pool = new GreenPool({ size: 1 });
    const blocker = gate();
    const futures: Future<unknown, unknown>[] = [
      pool.submit(async () => 'a'),
      pool.submit(async () => {
        throw new Error('b failed');
      }),
      pool.submit(async () => blocker.promise),
      pool.submit(async () => 'd'),
    ];
    await assert.rejects(collectInOrder(futures), /b failed/);
    assert.deepEqual(futures.map((f) => f.state), ['done', 'failed', 'cancelled', 'cancelled']);
    await assert.rejects(futures[3]!.result(), CancelledError);
    blocker.release();
    await pool.shutdown();
  });
});
