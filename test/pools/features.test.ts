// Pool features beyond the Executor contract, on both pools where they apply.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';
import { Event, ProcessPool, RemoteError, ThreadPool, transfer, type PoolBase } from '../../src/index.js';
import tasks from '../fixtures/tasks.js';
import crash from '../fixtures/crash-tasks.js';

const pools: [string, (options: { workers: number; idleTimeout?: number }) => PoolBase][] = [
  ['ThreadPool', (o) => new ThreadPool(o)],
  ['ProcessPool', (o) => new ProcessPool(o)],
];

for (const [name, create] of pools) {
  describe(`${name}: features`, () => {
    test('map over an array: guided chunks, large first and small last, items passed as they are', async () => {
      await using pool = create({ workers: 2 });
      const items = Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? [i, 'pair'] : i));
      const out = await pool.map(tasks.itemAndChunk, items);
      // An array item is one argument, not spread into several.
      assert.deepEqual(out.map(([item]) => item), items);
      const sizes: number[] = [];
      let previous: string | undefined;
      for (const [, chunk] of out) {
        if (chunk === previous) sizes[sizes.length - 1]!++;
        else sizes.push(1);
        previous = chunk;
      }
      assert.equal(new Set(out.map(([, chunk]) => chunk)).size, sizes.length, 'a chunk is one run of consecutive items');
      assert.equal(sizes[0], 250, 'the first chunk takes half of a worker\'s share');
      assert.ok(sizes.at(-1)! < 50, `the last chunks are small: ${sizes.join(', ')}`);
      for (let i = 1; i < sizes.length; i++) assert.ok(sizes[i]! <= sizes[i - 1]!, `chunk sizes never grow: ${sizes.join(', ')}`);
      // A chunksize given is used as it is.
      const fixed = await pool.map(tasks.itemAndChunk, items.slice(0, 100), { chunksize: 10 });
      assert.equal(new Set(fixed.map(([, chunk]) => chunk)).size, 10);
      // A task with a timeout or retries: each item is its own attempt.
      const timed = await pool.map(tasks.itemAndChunk.with({ timeout: 60_000 }), items.slice(0, 50));
      assert.equal(new Set(timed.map(([, chunk]) => chunk)).size, 50);
      const retried = await pool.map(tasks.itemAndChunk.with({ retries: 1 }), items.slice(0, 50));
      assert.equal(new Set(retried.map(([, chunk]) => chunk)).size, 50);
    });

    test('a short task submitted behind a long one runs on the worker that frees first', async () => {
      await using pool = create({ workers: 2 });
      await pool.map(tasks.square, Array.from({ length: 40 }, (_, i) => i), { chunksize: 1 }); // tasks measured short
      const dir = tempDir();
      const marker = (name: string) => join(dir, name);
      const long = pool.submit(tasks.finishAfter, [marker('go-long'), marker('long'), 'long']);
      const other = pool.submit(tasks.finishAfter, [marker('go-other'), marker('other'), 'other']);
      const shorts = [1, 2, 3].map((i) => pool.submit(tasks.finishAfter, [null, marker(`short${i}`), `short${i}`]));
      writeFileSync(marker('go-other'), '');
      // No short task may have been buffered behind the long one, which is still waiting.
      assert.deepEqual(await Promise.all(shorts), ['short1', 'short2', 'short3']);
      assert.equal(long.state, 'running');
      writeFileSync(marker('go-long'), '');
      assert.deepEqual(await Promise.all([long, other]), ['long', 'other']);
    });

    test('imap over an array streams in equal small chunks, not guided ones', async () => {
      await using pool = create({ workers: 2 });
      const sizes = new Map<string, number>();
      for await (const [, chunk] of pool.imap(tasks.itemAndChunk, Array.from({ length: 1280 }, (_, i) => i))) {
        sizes.set(chunk, (sizes.get(chunk) ?? 0) + 1);
      }
      assert.deepEqual(new Set(sizes.values()), new Set([5]), 'chunks of 1280 / (2 workers x 128)');
    });

    test('self-contained plain functions are shipped by source, methods and generators included', async () => {
      await using pool = create({ workers: 2 });
      assert.equal(await pool.submit((a: number, b: number) => a * b, 6, 7), 42);
      const helpers = {
        shout(text: string) { return `${text.toUpperCase()}!`; },
        async later(x: number) { await new Promise((r) => setTimeout(r, 1)); return x + 1; },
        *twice(x: number) { yield x; yield x; return 'end'; },
      };
      assert.equal(await pool.submit(helpers.shout, 'hi'), 'HI!');
      assert.equal(await pool.submit(helpers.later, 1), 2);
      const values: number[] = [];
      for await (const v of pool.submit(helpers.twice, 5)) values.push(v);
      assert.deepEqual(values, [5, 5]);
      assert.deepEqual(await pool.map(function cube(x: number) { return x ** 3; }, [1, 2, 3]), [1, 8, 27]);
    });

    test('a worker loads the shareable handlers with the first Lock, Event, ... it is sent, not at start', async () => {
      await using pool = create({ workers: 1 });
      // Plain functions import nothing, so the registry is what the worker itself loaded.
      const handlers = () => (globalThis as Record<symbol, Map<string, unknown> | undefined>)[Symbol.for('weft.shareables')]?.size ?? 0;
      assert.equal(await pool.submit(handlers), 0);
      const event = new Event();
      // In a thread set() is synchronous, in a child a call to the parent: await covers both.
      const setIt = async (e: Event) => { await e.set(); return 'set'; };
      const [first, second] = await Promise.all([pool.submit(setIt, event), pool.submit(setIt, event)]);
      assert.deepEqual([first, second], ['set', 'set']);
      assert.equal(event.isSet(), true);
      assert.ok(await pool.submit(handlers) > 0);
    });

    test('a bound or native function is refused with a clear TypeError', async () => {
      await using pool = create({ workers: 1 });
      assert.throws(() => pool.submit(Math.max, 1, 2), /self-contained function/);
      assert.throws(() => pool.submit(((x: number) => x).bind(null), 1), TypeError);
    });

    test('an argument that cannot be cloned fails that task only', async () => {
      await using pool = create({ workers: 1 });
      const good = pool.submit(tasks.square, 3);
      const bad = pool.submit(tasks.square, (() => 1) as unknown as number);
      const after = pool.submit(tasks.square, 4);
      await assert.rejects(bad, /could not be sent to a worker/);
      assert.deepEqual([await good, await after], [9, 16]);
    });

    test('a result that cannot be cloned fails that task with a clear error', async () => {
      await using pool = create({ workers: 1 });
      await assert.rejects(pool.submit(crash.returnsFunction), (e: Error) => e instanceof RemoteError && /could not be sent back/.test(e.message));
      assert.equal(await pool.submit(tasks.square, 2), 4);
    });

    test('a deep queue is batched and every result lands on its own future', async () => {
      await using pool = create({ workers: 2 });
      await pool.start(); // both workers up, so that both take work
      const futures = Array.from({ length: 20_000 }, (_, i) => pool.submit(tasks.square, i));
      const results = await Promise.all(futures);
      assert.ok(results.every((r, i) => r === i * i));
      const stats = pool.stats;
      assert.equal(stats.completed, 20_000);
      assert.equal(stats.workers.reduce((n, w) => n + w.completed, 0), 20_000);
      assert.ok(stats.workers.every((w) => w.completed > 0), 'both workers took work');
      assert.ok(stats.workers.every((w) => w.utilisation > 0 && w.utilisation <= 1));
    });

    test('map chooses a chunk size and keeps order', async () => {
      await using pool = create({ workers: 2 });
      const items = Array.from({ length: 1000 }, (_, i) => i);
      assert.deepEqual(await pool.map(tasks.square, items), items.map((i) => i * i));
    });

    test('stats count queued, running, completed and failed', async () => {
      await using pool = create({ workers: 1 });
      const running = pool.submit(tasks.sleepThen, 50, 'a');
      const queued = pool.submit(tasks.square, 2);
      await new Promise((r) => setImmediate(r));
      const during = pool.stats;
      assert.equal(during.running, 1);
      assert.equal(during.queued, 1);
      await running;
      await queued;
      await pool.submit(tasks.fail, 'x').catch(() => {});
      const after = pool.stats;
      assert.deepEqual([after.completed, after.failed, after.queued, after.running], [2, 1, 0, 0]);
      assert.equal(after.workers.length, 1);
    });

    test('idle workers stop after idleTimeout and come back on demand', async () => {
      await using pool = create({ workers: 1, idleTimeout: 30 });
      const first = await pool.submit(crash.pid);
      const deadline = Date.now() + 5000;
      while (pool.stats.workers.length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(pool.stats.workers.length, 0, 'the idle worker stopped');
      const second = await pool.submit(crash.pid);
      assert.equal(pool.stats.workers.length, 1);
      if (name === 'ProcessPool') assert.notEqual(second, first, 'a new child process');
    });

    test('options are validated with messages that say what came', () => {
      assert.throws(() => create({ workers: 0 }), /Expected `workers` to be a positive integer, got 0/);
      assert.throws(() => create({ workers: 1, idleTimeout: -1 }), /idleTimeout/);
    });
  });
}

describe('ThreadPool: transfer lists', () => {
  test('transfer() moves an ArrayBuffer to the worker and a result back', async () => {
    await using pool = new ThreadPool({ workers: 1 });
    const buffer = new ArrayBuffer(1024);
    assert.equal(await pool.submit(crash.byteLength, transfer(buffer)), 1024);
    assert.equal(buffer.byteLength, 0, 'the caller copy is detached: it moved');
    const copied = new ArrayBuffer(16);
    assert.equal(await pool.submit(crash.byteLength, copied), 16);
    assert.equal(copied.byteLength, 16, 'without transfer() it is copied');
    const back = await pool.submit(crash.makeBuffer, 64);
    assert.equal(back.byteLength, 64);
  });

  test('transfer() refuses what it cannot move', () => {
    assert.throws(() => transfer({} as object), /Expected `transfer\(value\)`/);
  });
});

describe('ProcessPool: inherited flags', () => {
  test('a pool made under `node -e` and --inspect runs the worker, not the eval code or a debugger', async () => {
    const weft = new URL('../../src/index.js', import.meta.url).href;
    const code = `import(${JSON.stringify(weft)}).then(async ({ ProcessPool }) => {
      const pool = new ProcessPool({ workers: 1 });
      console.log(await pool.submit(() => JSON.stringify(process.execArgv)));
      await pool.shutdown();
    });`;
    const { execFile } = await import('node:child_process');
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--inspect=127.0.0.1:0', '-e', code], { timeout: 30_000 }, (error, out) => (error ? reject(error) : resolve(out)));
    });
    assert.deepEqual(JSON.parse(stdout.trim()), []);
  });
});
