import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CancelledError, GreenPool, currentTaskContext, defineTasks, taskContext } from '../../src/index.js';

/** A promise with its resolve function, to wait for an event rather than a time. */
function signalled<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

// GreenPool enters each task's context once (one context frame per task) and reports from the
// context its pump round started in: these tests hold the behaviour that must survive that.
describe('GreenPool taskContext()', () => {
  test('each of many interleaved tasks sees its own context after every kind of await', async () => {
    const pool = new GreenPool({ size: Infinity });
    const task = async (i: number) => {
      const id = taskContext().id;
      const seen: string[] = [];
      await Promise.resolve();
      seen.push(taskContext().id);
      await nextTurn();
      seen.push(taskContext().id);
      await new Promise((resolve) => setTimeout(resolve, i % 3));
      seen.push(taskContext().id);
      await Promise.all([Promise.resolve(1), nextTurn()]);
      seen.push(taskContext().id);
      return { id, seen };
    };
    const futures = Array.from({ length: 200 }, (_, i) => pool.spawn(task, i));
    const results = await Promise.all(futures);
    results.forEach(({ id, seen }, i) => {
      assert.equal(id, futures[i]!.id);
      assert.deepEqual(seen, [id, id, id, id], `task ${i} saw another task's context after an await`);
    });
    await pool.shutdown();
  });

  test('callbacks a task schedules (timers, immediates, microtasks) run in its context', async () => {
    const pool = new GreenPool();
    const future = pool.spawn(() => new Promise<string[]>((resolve) => {
      const seen: string[] = [];
      const record = () => {
        seen.push(taskContext().id);
        if (seen.length === 3) resolve(seen);
      };
      queueMicrotask(record);
      setImmediate(record);
      setTimeout(record, 1);
    }));
    assert.deepEqual(await future, [future.id, future.id, future.id]);
    await pool.shutdown();
  });

  test('code outside the tasks, and synchronous future callbacks, see no task context', async () => {
    const pool = new GreenPool();
    const inCallbacks: unknown[] = [];
    const futures = [0, 1, 2].map((i) => pool.spawn(async () => {
      await nextTurn();
      if (i === 1) throw new Error('boom');
      return i;
    }).onDone(() => inCallbacks.push(currentTaskContext())));
    const sync = pool.spawn(() => 7).onDone(() => inCallbacks.push(currentTaskContext()));
    assert.equal(await sync, 7);
    assert.equal(currentTaskContext(), undefined, 'the caller of submit, after an await');
    await Promise.allSettled(futures);
    assert.equal(currentTaskContext(), undefined, 'the caller, after the tasks settled');
    assert.deepEqual(inCallbacks, [undefined, undefined, undefined, undefined]);
    // A task started later in the same process still has its own context.
    assert.equal(await pool.spawn(async () => {
      await nextTurn();
      return taskContext().attempt;
    }), 1);
    await pool.shutdown();
  });

  test('outcomes are reported in the submitter\'s context: its own AsyncLocalStorage store, no task context, for fulfilled and rejected tasks alike', async () => {
    const request = new AsyncLocalStorage<string>();
    const pool = new GreenPool({ size: 1 }); // the second and third tasks start from the first one's outcome
    const seen: [string | undefined, unknown][] = [];
    const record = () => seen.push([request.getStore(), currentTaskContext()]);
    const futures = request.run('request-1', () => [0, 1, 2].map((i) => pool.spawn(async () => {
      request.enterWith(`inside task ${i}`); // a task's own store stays in the task
      await nextTurn();
      if (i === 1) throw new Error('boom');
      return taskContext().id;
    }).onDone(record)));
    await Promise.allSettled(futures);
    assert.deepEqual(seen, [['request-1', undefined], ['request-1', undefined], ['request-1', undefined]]);
    assert.equal(await futures[2], futures[2]!.id, 'a task started from an earlier outcome has its own context');
    await pool.shutdown();
  });

  test('a task that throws synchronously leaves the next task of the same round its own context', async () => {
    const pool = new GreenPool();
    const failing = pool.spawn(() => {
      throw new Error('at once');
    });
    const next = pool.spawn(async () => {
      await nextTurn();
      return taskContext().id;
    });
    await assert.rejects(failing, /at once/);
    assert.equal(await next, next.id);
    await pool.shutdown();
  });

  test('nested pools: the inner task sees its own context, the outer one its own again after waiting', async () => {
    const outer = new GreenPool({ size: 2 });
    const inner = new GreenPool({ size: 1 });
    const future = outer.spawn(async () => {
      const innerFuture = inner.spawn(async () => {
        await nextTurn();
        return taskContext().id;
      });
      const innerSaw = await innerFuture;
      return { innerSaw, innerId: innerFuture.id, outerSaw: taskContext().id };
    });
    const { innerSaw, innerId, outerSaw } = await future;
    assert.equal(innerSaw, innerId);
    assert.equal(outerSaw, future.id);
    await Promise.all([outer.shutdown(), inner.shutdown()]);
  });

  test('cancelling a running task aborts the signal it reads after an await', async () => {
    const pool = new GreenPool();
    const started = signalled();
    const future = pool.spawn(async () => {
      started.resolve();
      await nextTurn();
      const { signal } = taskContext();
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      return signal.reason;
    });
    await started.promise;
    future.cancel();
    await assert.rejects(future, CancelledError);
    await pool.shutdown();
  });

  test('a retried task sees attempt 2 after an await, and a signal that has not aborted', async () => {
    const tasks = defineTasks(import.meta.url, {
      async flaky(): Promise<string> {
        await nextTurn();
        const { attempt, signal } = taskContext();
        if (attempt === 1) throw new Error('first attempt fails');
        return `${attempt} ${signal.aborted}`;
      },
    });
    const pool = new GreenPool();
    assert.equal(await pool.spawn(tasks.flaky.with({ retries: 1, retryDelay: 1 })), '2 false');
    await pool.shutdown();
  });

  test('a chunked map gives every call the chunk\'s context after an await', async () => {
    const pool = new GreenPool({ size: 2 });
    const ids = await pool.map(async (x: number) => {
      await nextTurn();
      return `${x}:${taskContext().attempt}:${typeof taskContext().id}`;
    }, [1, 2, 3, 4, 5], { chunksize: 2 });
    assert.deepEqual(ids, ['1:1:string', '2:1:string', '3:1:string', '4:1:string', '5:1:string']);
    await pool.shutdown();
  });
});
