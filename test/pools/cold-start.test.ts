// A cold ThreadPool (no worker ready yet) sends each starting worker its first call with the
// spawn, so the call starts the moment its worker is up; what the pool promises when such a
// worker never becomes ready still holds. (How soon is the benchmark's to show: bench pi,
// threads-cold against threads.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProcessPool, ThreadPool, WorkerCrashedError } from '../../src/index.js';
import tasks from '../fixtures/tasks.js';
import { tempDir } from '../helpers.js';

/** One turn of microtasks: the pool has dispatched what was submitted (no worker can be ready yet, that takes a message). */
const dispatched = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('ThreadPool: cold start', () => {
  test('each starting worker is sent one call at once; the rest wait for whichever is ready first', async () => {
    await using pool = new ThreadPool({ workers: 2 });
    const futures = [1, 2, 3, 4].map((x) => pool.submit(tasks.square, x));
    await dispatched();
    assert.deepEqual(pool.stats.workers.map((w) => w.running), [1, 1], 'one call held by each starting worker');
    assert.deepEqual(await Promise.all(futures), [1, 4, 9, 16]);
  });

  test('a worker terminated before it was ready: the call sent to it never ran, and runs on its replacement', async () => {
    await using pool = new ThreadPool({ workers: 1 });
    const future = pool.submit(tasks.square, 7);
    await dispatched();
    assert.equal(pool.stats.workers[0]?.running, 1, 'the call was sent to the starting worker');
    pool.terminateWorkers();
    assert.equal(await future, 49);
  });

  test('workers that cannot start fail the calls sent to them with why, instead of running them again forever', async () => {
    const dir = tempDir();
    const failing = join(dir, 'failing-preload.mjs');
    writeFileSync(failing, "throw new Error('preload refused');\n");
    await using pool = new ThreadPool({ workers: 2, execArgv: ['--import', pathToFileURL(failing).href] });
    const futures = [1, 2, 3].map((x) => pool.submit(tasks.square, x));
    for (const future of futures) {
      await assert.rejects(future, (e: Error) => e instanceof WorkerCrashedError && /the worker failed to start/.test(e.message) && /preload refused/.test(e.message));
    }
  });
});

describe('ProcessPool: cold start', () => {
  test('calls wait for a child to say it is ready (its IPC is not relied on before that)', async () => {
    await using pool = new ProcessPool({ workers: 2 });
    const futures = [1, 2].map((x) => pool.submit(tasks.square, x));
    await dispatched();
    assert.deepEqual(pool.stats.workers.map((w) => w.running), [0, 0]);
    assert.deepEqual(await Promise.all(futures), [1, 4]);
  });
});
