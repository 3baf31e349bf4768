// A worker that runs out of memory (or dies without saying which task it ran) fails only the
// task that killed it: its neighbours, sent to the same worker in the same batches, all get
// their values, whether their answers had left the worker or not.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessPool, ThreadPool, WorkerCrashedError, type Future, type PoolBase } from '../../src/index.js';
import tasks from '../fixtures/tasks.js';
import crash from '../fixtures/crash-tasks.js';

const ROUNDS = 3;
const NEIGHBOURS = 40;
const WARM = 2000;

const pools: [string, () => PoolBase][] = [
  // Small heaps, so that each out-of-memory takes a fraction of a second.
  ['ThreadPool', () => new ThreadPool({ workers: 2, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 } })],
  ['ProcessPool', () => new ProcessPool({ workers: 2, maxMemoryMb: 32 })],
];

/** Loads the task modules in both workers (so that no import pauses a batch). */
async function load(pool: PoolBase): Promise<void> {
  await pool.start();
  await Promise.all([pool.submit(crash.exitIf, null), pool.submit(crash.exitIf, null)]);
}

/**
 * Runs quick tasks until the pool's estimate of the task time has fallen back (a dead worker's
 * task counts as long), so that it sends calls in batches again: the killer then shares a
 * batch with neighbours whose answers are still in the worker when it dies.
 */
async function warm(pool: PoolBase): Promise<void> {
  const squares = await Promise.all(Array.from({ length: WARM }, (_, i) => pool.submit(tasks.square, i)));
  assert.equal(squares[WARM - 1], (WARM - 1) ** 2);
}

/** Neighbour `i`: alternately synchronous and asynchronous, so answers wait in the worker both ways. */
function neighbour(pool: PoolBase, i: number): Future<unknown, unknown> {
  return i % 2 === 0 ? pool.submit(tasks.square, i) : pool.submit(tasks.sleepThen, 0, i * i);
}

/** Submits half the neighbours, then `killer`, then the other half; checks every neighbour's value. */
async function aroundKiller(pool: PoolBase, round: number, killer: () => Future<unknown>): Promise<unknown> {
  const base = round * 1000;
  const before = Array.from({ length: NEIGHBOURS / 2 }, (_, i) => neighbour(pool, base + i));
  const dying = killer();
  const after = Array.from({ length: NEIGHBOURS / 2 }, (_, i) => neighbour(pool, base + 500 + i));
  const [error, values] = await Promise.all([dying.then(() => 'no error', (e: unknown) => e), Promise.all([...before, ...after])]);
  const expected = [...before.map((_, i) => (base + i) ** 2), ...after.map((_, i) => (base + 500 + i) ** 2)];
  assert.deepEqual(values, expected, `round ${round}: every neighbour gets its own value`);
  return error;
}

for (const [name, create] of pools) {
  describe(`${name}: out of memory`, () => {
    test(`${NEIGHBOURS} neighbours around a task out of memory, ${ROUNDS} rounds: only that task fails, with "out of memory"`, async () => {
      await using pool = create();
      await load(pool);
      for (let round = 0; round < ROUNDS; round++) {
        await warm(pool);
        const error = await aroundKiller(pool, round, () => pool.submit(crash.hog));
        assert.ok(error instanceof WorkerCrashedError, `round ${round}: expected WorkerCrashedError, got ${String(error)}`);
        assert.equal(error.outOfMemory, true);
        assert.equal(error.code, 'weft:worker-crashed');
        assert.match(error.message, /out of memory/);
        assert.match(String(error.reason), /^out of memory/);
      }
      assert.equal(pool.stats.failed, ROUNDS, 'only the tasks out of memory failed');
      assert.equal(pool.stats.completed, 2 + ROUNDS * (WARM + NEIGHBOURS));
      assert.equal(await pool.submit(tasks.square, 12), 144, 'the pool serves on');
      assert.equal(pool.stats.workers.length, 2, 'the dead workers were replaced');
    });
  });
}

describe('ProcessPool: a child that dies with no exit report', () => {
  test('several tasks held: they run again one at a time, and only the one that kills its worker alone fails', async () => {
    await using pool = new ProcessPool({ workers: 2 });
    await load(pool);
    for (let round = 0; round < 2; round++) {
      await warm(pool);
      const error = await aroundKiller(pool, round, () => pool.submit(crash.killSelf, 'SIGKILL'));
      assert.ok(error instanceof WorkerCrashedError, `expected WorkerCrashedError, got ${String(error)}`);
      assert.equal(error.signal, 'SIGKILL');
      assert.equal(error.outOfMemory, false);
    }
    assert.equal(pool.stats.failed, 2);
    assert.equal(await pool.submit(tasks.square, 3), 9);
  });

  test("a child's stderr still reaches ours, byte for byte", async () => {
    await using pool = new ProcessPool({ workers: 1 });
    const text = `weft stderr check ${process.pid}-${Date.now()}\n`;
    const write = process.stderr.write;
    let seen = '';
    const arrived = new Promise<void>((resolve) => {
      process.stderr.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
        seen += Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk);
        if (seen.includes(text)) resolve();
        return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      } as typeof process.stderr.write;
    });
    try {
      assert.equal(await pool.submit(crash.say, text), text);
      // The answer and the bytes travel on different pipes: wait for the bytes, boundedly.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after 10 s waiting for the child's stderr bytes to reach process.stderr; saw ${JSON.stringify(seen.slice(-200))}`)), 10_000);
      });
      await Promise.race([arrived, late]).finally(() => clearTimeout(timer));
      assert.ok(seen.includes(text));
    } finally {
      process.stderr.write = write;
    }
  });
});
