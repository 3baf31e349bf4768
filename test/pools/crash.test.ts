// One worker failure mode per test, on both pools: the right task fails with
// WorkerCrashedError, the others finish, and the pool is back to full strength.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTasks, ProcessPool, RemoteError, ThreadPool, WorkerCrashedError, type PoolBase } from '../../src/index.js';
import tasks from '../fixtures/tasks.js';
import crash from '../fixtures/crash-tasks.js';
import { join } from 'node:path';
import { firstProgress, markerWritten, tempDir, until } from '../helpers.js';

// Defined here under the broken module's URL, without importing it (the import would throw).
const broken = defineTasks(new URL('../fixtures/broken-module.js', import.meta.url).href, { never: (): number => 1 });

const pools: [string, (options: { workers: number; cancelGraceMs?: number }) => PoolBase][] = [
  ['ThreadPool', (o) => new ThreadPool(o)],
  ['ProcessPool', (o) => new ProcessPool(o)],
];

for (const [name, create] of pools) {
  describe(`${name}: crashes`, () => {
    test('process.exit(3) in a task fails only that task; queued tasks still run', async () => {
      await using pool = create({ workers: 2 });
      await pool.start();
      const others = [1, 2, 3, 4, 5, 6].map((i) => pool.submit(tasks.sleepThen, 5, i));
      const dying = pool.submit(crash.exitWith, 3);
      const error = await dying.then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof WorkerCrashedError, `expected WorkerCrashedError, got ${String(error)}`);
      assert.equal(error.exitCode, 3);
      assert.equal(typeof error.workerId, 'number');
      assert.deepEqual(await Promise.all(others), [1, 2, 3, 4, 5, 6]);
      assert.equal(pool.stats.workers.length, 2, 'the crashed worker was replaced');
      assert.equal(await pool.submit(tasks.square, 9), 81);
    });

    test('a crash inside a batch: tasks before it keep their results, tasks after it run again', async () => {
      await using pool = create({ workers: 1 });
      // Both tasks known to the worker, so nothing pauses the batch before the crash.
      assert.equal(await pool.submit(crash.exitIf, null), 'alive');
      assert.equal(await pool.submit(tasks.square, 1), 1);
      const before = Array.from({ length: 2000 }, (_, i) => pool.submit(tasks.square, i));
      const dying = pool.submit(crash.exitIf, 3);
      const after = Array.from({ length: 2000 }, (_, i) => pool.submit(tasks.square, 100 + i));
      await assert.rejects(dying, WorkerCrashedError);
      assert.deepEqual(await Promise.all(before), before.map((_, i) => i * i));
      assert.deepEqual(await Promise.all(after), after.map((_, i) => (100 + i) ** 2));
      assert.equal(pool.stats.failed, 1, 'only the task that called process.exit failed');
      assert.equal(pool.stats.completed, 4002);
    });

    test('an uncaught exception in the worker fails the task it was running, with the reason', async () => {
      await using pool = create({ workers: 1 });
      const dying = pool.submit(crash.throwUncaught, 'kaboom');
      const behind = pool.submit(tasks.add, 1, 2);
      const error = await dying.then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof WorkerCrashedError);
      assert.match(String(error.reason), /kaboom/);
      assert.equal(await behind, 3, 'the task queued behind it ran on the replacement');
      assert.equal(pool.stats.workers.length, 1);
    });

    test('a module that throws at import fails its tasks with that error; the worker survives', async () => {
      await using pool = create({ workers: 1 });
      await assert.rejects(pool.submit(broken.never), (e: Error) => e instanceof RemoteError && /broken at import/.test(e.message));
      assert.equal(await pool.submit(tasks.square, 4), 16);
      assert.equal(pool.stats.failed, 1);
    });

    test('a spinning task cancelled with force is killed; a task waiting behind it is not harmed', async () => {
      await using pool = create({ workers: 1 });
      const spinning = pool.submit(crash.spin);
      await firstProgress(spinning);
      const waiting = pool.submit(tasks.add, 20, 22);
      assert.equal(pool.cancel(spinning, { force: true }), true);
      assert.equal(spinning.state, 'cancelled');
      assert.equal(await waiting, 42);
      assert.equal(pool.stats.workers.length, 1);
    });

    test('the grace period of a cancelled task that stopped never kills the task after it (workerpool #548)', async () => {
      await using pool = create({ workers: 1, cancelGraceMs: 100 });
      const dir = tempDir();
      const cancelled = pool.submit(tasks.waitForAbort, join(dir, 'stopped'));
      await firstProgress(cancelled);
      cancelled.cancel();
      const next = pool.submit(tasks.sleepThen, 300, 'next');
      assert.equal(await next, 'next');
      assert.equal(await markerWritten(join(dir, 'stopped')), 'CancelledError');
    });

    test('a spinning task past cancelGraceMs is killed, and only while it is the one running', async () => {
      await using pool = create({ workers: 2, cancelGraceMs: 100 });
      const spinning = pool.submit(crash.spin.with({ timeout: 50 }));
      await assert.rejects(spinning, (e: Error) => e.name === 'TimeoutError');
      // A task that starts on the other worker and outlives the grace period is untouched.
      const slow = pool.submit(tasks.sleepThen, 300, 'slow');
      // The spinning worker is replaced (a third worker id appears); the other one is untouched.
      await until(() => pool.stats.workers.some((w) => w.id === 3), 10_000, 'the spinning worker to be replaced');
      assert.equal(await slow, 'slow');
      assert.equal(pool.stats.workers.length, 2);
    });
  });
}

describe('ThreadPool: resource limits', () => {
  test('a worker out of memory under resourceLimits is replaced; its task fails, the next runs', async () => {
    await using pool = new ThreadPool({ workers: 1, resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 } });
    const error = await pool.submit(crash.hog).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WorkerCrashedError, `expected WorkerCrashedError, got ${String(error)}`);
    assert.match(String(error.reason), /^out of memory/);
    assert.equal(error.outOfMemory, true);
    assert.equal(await pool.submit(tasks.square, 5), 25);
  });
});

describe('ProcessPool: memory cap', () => {
  test('a child over maxMemoryMb is replaced; its task fails, the next runs', async () => {
    await using pool = new ProcessPool({ workers: 1, maxMemoryMb: 32 });
    const error = await pool.submit(crash.hog).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WorkerCrashedError, `expected WorkerCrashedError, got ${String(error)}`);
    assert.match(String(error.reason), /^out of memory/);
    assert.equal(error.outOfMemory, true);
    assert.equal(await pool.submit(tasks.square, 5), 25);
  });
});
