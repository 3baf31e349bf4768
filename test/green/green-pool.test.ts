import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GreenPool, joinAll, taskContext, type Future } from '../../src/index.js';

describe('GreenPool', () => {
  test('never runs more than `size` tasks at once, and runs them all', async () => {
    const pool = new GreenPool({ size: 3 });
    let active = 0;
    let peak = 0;
    const task = async (i: number) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, i % 3));
      active--;
      return i;
    };
    const futures = Array.from({ length: 50 }, (_, i) => pool.spawn(task, i));
    assert.equal(pool.running, 0, 'spawn schedules; nothing runs synchronously');
    assert.deepEqual(await Promise.all(futures), Array.from({ length: 50 }, (_, i) => i));
    assert.equal(peak, 3);
    await pool.shutdown();
  });

  test('imap is eventlet-like: ordered results, bounded by the pool size', async () => {
    const pool = new GreenPool({ size: 2 });
    const out: number[] = [];
    for await (const v of pool.imap(async (x: number) => x * 10, [1, 2, 3, 4])) out.push(v);
    assert.deepEqual(out, [10, 20, 30, 40]);
    await pool.shutdown();
  });

  test('spawned plain functions get a task context with a signal that aborts on cancel', async () => {
    const pool = new GreenPool();
    let seen: unknown;
    let markStarted!: () => void;
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    const future = pool.spawn(async () => {
      const { signal } = taskContext();
      markStarted();
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      seen = signal.reason;
    });
    await started;
    future.cancel();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal((seen as Error).name, 'CancelledError');
    await pool.shutdown();
  });

  test('asyncContext: false gives the context to the synchronous part of a task only', async () => {
    const pool = new GreenPool({ asyncContext: false });
    const future = pool.spawn(async () => {
      const before = taskContext().attempt;
      await new Promise((resolve) => setImmediate(resolve));
      let after: string;
      try {
        after = String(taskContext().attempt);
      } catch (error) {
        after = (error as Error).name;
      }
      return [before, after];
    });
    assert.deepEqual(await future, [1, 'InvalidStateError']);
    const withContext = new GreenPool();
    const kept = withContext.spawn(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return taskContext().attempt;
    });
    assert.equal(await kept, 1);
    await Promise.all([pool.shutdown(), withContext.shutdown()]);
  });

  test('bad options say what was expected and what came', () => {
    assert.throws(() => new GreenPool({ size: 0 }), (e: Error) => e instanceof RangeError && e.message === 'Expected `size` to be a positive integer or Infinity, got 0 (number)');
    assert.throws(() => new GreenPool({ size: 2.5 }), RangeError);
    assert.throws(() => new GreenPool({ size: '4' as unknown as number }), (e: Error) => e instanceof TypeError && /got "4" \(string\)/.test(e.message));
    assert.throws(() => new GreenPool({ asyncContext: 'no' as unknown as boolean }), /Expected `asyncContext` to be a boolean, got "no" \(string\)/);
  });

  test('a non-task passed to submit is a TypeError naming what came', async () => {
    const pool = new GreenPool();
    assert.throws(() => (pool.submit as (task: unknown) => unknown)(42), (e: Error) => e instanceof TypeError && e.message === 'Expected `task` to be a task from defineTasks() or a function, got 42 (number)');
    assert.throws(() => (pool.submit as (task: unknown) => unknown)({}), /got an object Object/);
    await pool.shutdown();
  });
});

describe('joinAll', () => {
  test('returns at its timeout with the finished futures; the rest keep running', async () => {
    const pool = new GreenPool({ size: Infinity });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const quick = pool.spawn(async () => 'quick');
    const slow = pool.spawn(async () => { await gate; return 'slow'; });
    const finished = await joinAll([quick, slow], { timeout: 30 });
    assert.deepEqual(finished, [quick]);
    assert.equal(slow.state, 'running');
    release();
    assert.equal(await slow, 'slow');
    await pool.shutdown();
  });

  test('resolves (never rejects) once all are done, failures included', async () => {
    const pool = new GreenPool();
    const futures: Future<unknown>[] = [pool.spawn(async () => 1), pool.spawn(async () => { throw new Error('x'); })];
    const finished = await joinAll(futures);
    assert.equal(finished.length, 2);
    assert.deepEqual(finished.map((f) => f.state), ['done', 'failed']);
    assert.deepEqual(await joinAll([]), []);
    await pool.shutdown();
  });
});
