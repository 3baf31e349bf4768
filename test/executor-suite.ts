/**
 * The Executor contract, written once and run against every backend (CPython's
 * create_executor_tests is the model). A backend's test file calls
 *
 *   executorContract('ThreadPool', (concurrency) => new ThreadPool({ workers: concurrency }));
 *
 * `concurrency` is how many tasks the executor must be able to run at once; the suite uses 1
 * where it needs a task to stay queued behind a running one.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import { CancelledError, InvalidStateError, TimeoutError, type Executor } from '../src/index.js';
import tasks from './fixtures/tasks.js';
import { firstProgress, markerWritten, tempDir } from './helpers.js';

export interface ContractOptions {
  /** False for executors that run one task at a time whatever they are given (InlineExecutor). */
  parallel?: boolean;
  /**
   * True where a dispatched task may still wait in a queue that the executor does not hold (the
   * broker-backed cluster): cancelled there, it is dropped, never started, instead of starting
   * with its signal aborted. Tasks through one queue are taken in order, so a later task's
   * result proves the earlier one was either started or dropped.
   */
  dropsUnstarted?: boolean;
}

type Factory = (concurrency: number) => Executor;

export function executorContract(name: string, create: Factory, options: ContractOptions = {}): void {
  const parallel = options.parallel ?? true;

  /** A cancelled waitForAbort task saw its signal abort, or (dropsUnstarted) was dropped unstarted. */
  async function abortedOrDropped(executor: Executor, marker: string, reason?: string): Promise<void> {
    if (options.dropsUnstarted) {
      assert.equal(await executor.submit(tasks.square, 2), 4);
      if (!existsSync(`${marker}.started`)) {
        assert.equal(await executor.submit(tasks.square, 3), 9);
        assert.equal(existsSync(`${marker}.started`), false, 'a dropped task started later');
        return;
      }
    }
    const written = await markerWritten(marker);
    if (reason) assert.equal(written, reason);
  }

  async function withExecutor(concurrency: number, body: (executor: Executor) => Promise<void>): Promise<void> {
    const executor = create(concurrency);
    try {
      await body(executor);
    } finally {
      await executor.shutdown({ cancelPending: true });
    }
  }

  describe(`${name}: the Executor contract`, () => {
    test('submit resolves with the result and the future ends done', async () => {
      await withExecutor(2, async (executor) => {
        const future = executor.submit(tasks.add, 2, 3);
        assert.equal(await future, 5);
        assert.equal(future.state, 'done');
        assert.equal(future.done(), true);
      });
    });

    test('map returns results in input order whatever order they finish in', async () => {
      await withExecutor(4, async (executor) => {
        const delays = [40, 5, 25, 0, 10];
        const results = await executor.starmap(tasks.sleepThen, delays.map((d, i) => [d, i] as [number, number]));
        assert.deepEqual(results, [0, 1, 2, 3, 4]);
        assert.deepEqual(await executor.map(tasks.square, [1, 2, 3, 4]), [1, 4, 9, 16]);
        assert.deepEqual(await executor.map(tasks.square, [5, 6, 7], { chunksize: 2 }), [25, 36, 49]);
      });
    });

    test('map accepts async iterables and empty inputs', async () => {
      await withExecutor(2, async (executor) => {
        async function* numbers() { yield 1; yield 2; yield 3; }
        assert.deepEqual(await executor.map(tasks.square, numbers()), [1, 4, 9]);
        assert.deepEqual(await executor.map(tasks.square, []), []);
      });
    });

    test('imap is ordered, lazy and backpressured on an infinite iterable, and stops pulling on break', async () => {
      await withExecutor(2, async (executor) => {
        let pulled = 0;
        function* naturals() { for (let i = 0; ; i++) { pulled++; yield i; } }
        const seen: number[] = [];
        const concurrency = 3;
        for await (const value of executor.imap(tasks.square, naturals(), { concurrency })) {
          seen.push(value);
          // Never more than `concurrency` items ahead of what the consumer has taken.
          assert.ok(pulled <= seen.length + concurrency, `pulled ${pulled} items for ${seen.length} results`);
          if (seen.length === 10) break;
        }
        assert.deepEqual(seen, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
        const pulledAtBreak = pulled;
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(pulled, pulledAtBreak, 'the source was pulled after the consumer broke out');
      });
    });

    test('imapUnordered yields results as they finish', { skip: !parallel && 'runs one task at a time' }, async () => {
      await withExecutor(3, async (executor) => {
        // Completion order is forced by marker files that the consumer writes as results arrive
        // (fast releases middle, middle releases slow), not by timing, so it holds however
        // slowly workers start or answer; input order is slow, fast, middle.
        const dir = tempDir();
        const marker = (name: string) => join(dir, name);
        const items: [string | null, string, string][] = [
          [marker('go-slow'), marker('slow'), 'slow'],
          [null, marker('fast'), 'fast'],
          [marker('go-middle'), marker('middle'), 'middle'],
        ];
        const order: string[] = [];
        for await (const label of executor.imapUnordered(tasks.finishAfter, items)) {
          order.push(label);
          if (label === 'fast') writeFileSync(marker('go-middle'), '');
          if (label === 'middle') writeFileSync(marker('go-slow'), '');
        }
        assert.deepEqual(order, ['fast', 'middle', 'slow']);
        const squares: number[] = [];
        for await (const value of executor.imapUnordered(tasks.square, [3, 1, 2])) squares.push(value);
        assert.deepEqual(squares.sort(), [1, 4, 9]);
      });
    });

    test('an error in one task fails that future and map, and the others still finish', async () => {
      await withExecutor(2, async (executor) => {
        const bad = executor.submit(tasks.fail, 'boom');
        const good = executor.submit(tasks.square, 7);
        await assert.rejects(bad, (error: Error) => error.message === 'boom');
        assert.equal(bad.state, 'failed');
        assert.equal(((await bad.exception()) as Error).message, 'boom');
        assert.equal(await good, 49);
        await assert.rejects(executor.map(tasks.fail, ['one', 'two']), /one/);
      });
    });

    test('a pending task can be cancelled and never runs', async () => {
      await withExecutor(1, async (executor) => {
        const dir = tempDir();
        const blocker = executor.submit(tasks.waitForAbort, join(dir, 'blocker'));
        await firstProgress(blocker);
        const queued = executor.submit(tasks.touch, join(dir, 'queued'));
        assert.equal(queued.state, 'pending');
        assert.equal(queued.cancel(), true);
        assert.equal(queued.state, 'cancelled');
        assert.equal(queued.cancel(), false, 'cancel after cancel is a no-op');
        await assert.rejects(queued, CancelledError);
        blocker.cancel();
        await markerWritten(join(dir, 'blocker'));
        assert.equal(await executor.submit(tasks.square, 3), 9, 'the executor keeps serving');
        assert.equal(existsSync(join(dir, 'queued')), false, 'the cancelled task ran');
      });
    });

    test('cancelling a running task aborts its signal', async () => {
      await withExecutor(2, async (executor) => {
        const dir = tempDir();
        const future = executor.submit(tasks.waitForAbort, join(dir, 'running'));
        assert.equal(await firstProgress(future), 'started');
        assert.equal(future.state, 'running');
        assert.equal(future.cancel(), true);
        assert.equal(future.state, 'cancelled');
        await assert.rejects(future, CancelledError);
        assert.equal(await markerWritten(join(dir, 'running')), 'CancelledError');
      });
    });

    test('a task past its timeout fails with TimeoutError and its signal aborts', async () => {
      await withExecutor(2, async (executor) => {
        const dir = tempDir();
        const future = executor.submit(tasks.waitForAbort.with({ timeout: 50 }), join(dir, 'timeout'));
        await assert.rejects(future, TimeoutError);
        assert.equal(future.state, 'failed');
        assert.equal(await markerWritten(join(dir, 'timeout')), 'TimeoutError');
      });
    });

    test('retries run a failed task again, with the attempt number in its context', async () => {
      await withExecutor(2, async (executor) => {
        assert.equal(await executor.submit(tasks.flaky.with({ retries: 2, retryDelay: 1 }), 3), 3);
        await assert.rejects(executor.submit(tasks.flaky.with({ retries: 1, retryDelay: 1 }), 3), /attempt 2 failed/);
      });
    });

    test('the caller signal option cancels the task', async () => {
      await withExecutor(2, async (executor) => {
        const controller = new AbortController();
        const dir = tempDir();
        const future = executor.submit(tasks.waitForAbort.with({ signal: controller.signal }), join(dir, 'signal'));
        await firstProgress(future);
        controller.abort();
        await assert.rejects(future, CancelledError);
        await markerWritten(join(dir, 'signal'));
      });
    });

    test('generator tasks stream their values and resolve with the return value', async () => {
      await withExecutor(2, async (executor) => {
        const future = executor.submit(tasks.countdown, 3);
        const values: number[] = [];
        for await (const value of future) values.push(value);
        assert.deepEqual(values, [3, 2, 1]);
        assert.equal(await future, 'liftoff');
      });
    });

    test('progress reaches onProgress', async () => {
      await withExecutor(2, async (executor) => {
        const seen: unknown[] = [];
        const future = executor.submit(tasks.reportProgress, 3).onProgress((value) => seen.push(value));
        assert.equal(await future, 3);
        assert.deepEqual(seen, [1, 2, 3]);
      });
    });

    test('queued tasks start in priority order', async () => {
      await withExecutor(1, async (executor) => {
        const dir = tempDir();
        const blocker = executor.submit(tasks.waitForAbort, join(dir, 'b'));
        await firstProgress(blocker);
        const finished: string[] = [];
        const submitted = [
          executor.submit(tasks.sleepThen.with({ priority: -1 }), 0, 'low'),
          executor.submit(tasks.sleepThen, 0, 'normal'),
          executor.submit(tasks.sleepThen.with({ priority: 5 }), 0, 'high'),
        ];
        for (const future of submitted) future.then((label) => finished.push(String(label)));
        blocker.cancel();
        await Promise.all(submitted);
        assert.deepEqual(finished, ['high', 'normal', 'low']);
      });
    });

    test('map with a timeout rejects with TimeoutError and cancels what is left', async () => {
      await withExecutor(2, async (executor) => {
        const dir = tempDir();
        await assert.rejects(executor.map(tasks.waitForAbort, [join(dir, 'm1')], { timeout: 30 }), TimeoutError);
        await abortedOrDropped(executor, join(dir, 'm1'), 'CancelledError');
      });
    });

    test('map with an aborted signal rejects and cancels what is left', async () => {
      await withExecutor(2, async (executor) => {
        const controller = new AbortController();
        const dir = tempDir();
        const mapping = executor.map(tasks.waitForAbort, [join(dir, 's1')], { signal: controller.signal });
        setTimeout(() => controller.abort(), 20);
        await assert.rejects(mapping, CancelledError);
        await abortedOrDropped(executor, join(dir, 's1'));
      });
    });

    test('shutdown waits for every task, then refuses new ones', async () => {
      const executor = create(2);
      const futures = [executor.submit(tasks.sleepThen, 20, 'a'), executor.submit(tasks.sleepThen, 10, 'b'), executor.submit(tasks.square, 4)];
      await executor.shutdown();
      assert.deepEqual(futures.map((f) => f.state), ['done', 'done', 'done']);
      assert.throws(() => executor.submit(tasks.square, 1), InvalidStateError);
    });

    test('shutdown with cancelPending cancels queued tasks and lets running ones finish', async () => {
      const executor = create(1);
      const running = executor.submit(tasks.sleepThen, 30, 'running');
      const queued = [executor.submit(tasks.square, 2), executor.submit(tasks.square, 3)];
      await firstStart(running);
      await executor.shutdown({ cancelPending: true });
      assert.equal(running.state, 'done');
      assert.deepEqual(queued.map((f) => f.state), ['cancelled', 'cancelled']);
    });

    test('shutdown without wait returns at once and still finishes the work', async () => {
      const executor = create(1);
      const future = executor.submit(tasks.sleepThen, 30, 'late');
      await executor.shutdown({ wait: false });
      assert.equal(future.done(), false);
      assert.equal(await future, 'late');
    });

    test('Symbol.asyncDispose shuts the executor down', async () => {
      let future;
      {
        await using executor = create(2);
        future = executor.submit(tasks.sleepThen, 10, 'disposed');
      }
      assert.equal(future.state, 'done');
    });

    test('taskContext gives the future id and attempt', async () => {
      await withExecutor(1, async (executor) => {
        const future = executor.submit(tasks.contextInfo);
        const info = await future;
        assert.equal(info.id, future.id);
        assert.equal(info.attempt, 1);
        assert.equal(info.aborted, false);
      });
    });
  });
}

function firstStart(future: { state: string }): Promise<void> {
  return new Promise((resolve) => {
    const poll = () => (future.state !== 'pending' ? resolve() : setImmediate(poll));
    poll();
  });
}
