// What JavaScript callers (no type checker) get: an unknown option name is a TypeError naming
// the known ones, and a shipped function that reaches for a caller's variable is told why it
// failed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterExecutor, GreenPool, ProcessPool, RemoteError, ThreadPool } from '../../src/index.js';

/** A constructor called as plain JavaScript would call it: options unchecked by the compiler. */
function construct(ctor: new (options: never) => unknown, options: object): unknown {
  return new ctor(options as never);
}

describe('checks for JavaScript callers', () => {
  test('an unknown option name is a TypeError that names the known ones', () => {
    assert.throws(() => construct(ThreadPool, { worker: 2 }), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /^ThreadPool has no option `worker` \(did you mean `workers`\?\); its options are `workers`, `cancelGraceMs`, `idleTimeout`, `resourceLimits`, `execArgv`$/);
      return true;
    });
    assert.throws(() => construct(ProcessPool, { workers: 1, maxMemory: 64 }), /^TypeError: ProcessPool has no option `maxMemory` \(did you mean `maxMemoryMb`\?\); its options are .*`env`/);
    assert.throws(() => construct(GreenPool, { sizes: 10 }), /^TypeError: GreenPool has no option `sizes` \(did you mean `size`\?\); its options are `size`, `asyncContext`$/);
    assert.throws(() => construct(ClusterExecutor, { listen: { port: 0 }, authkey: 'k', workers: 2 }), /^TypeError: ClusterExecutor\(\{ listen \}\) has no option `workers`; its options are `listen`, `authkey`, `localWorkers`/);
    assert.throws(() => construct(ClusterExecutor, { broker: 'redis://127.0.0.1:6379', queues: 'a' }), /^TypeError: ClusterExecutor\(\{ broker \}\) has no option `queues` \(did you mean `queue`\?\)/);
  });

  test('the known options are all accepted', async () => {
    await using threads = new ThreadPool({ workers: 1, cancelGraceMs: 100, idleTimeout: 1000, resourceLimits: {}, execArgv: [] });
    await using processes = new ProcessPool({ workers: 1, cancelGraceMs: 100, idleTimeout: 1000, maxMemoryMb: 64, execArgv: [], env: {} });
    await using green = new GreenPool({ size: 2, asyncContext: false });
    assert.deepEqual([threads.size, processes.size, green.size], [1, 1, 2]);
  });

  for (const [name, make] of [['ThreadPool', () => new ThreadPool({ workers: 1 })], ['ProcessPool', () => new ProcessPool({ workers: 1 })]] as const) {
    test(`${name}: a shipped function that uses a caller's variable fails saying that functions travel as source`, async () => {
      await using pool = make();
      const z = 3;
      const hint = /z is not defined \(a plain function travels to the worker as its source text, so it cannot use variables from the scope it was written in: .*defineTasks/;
      await assert.rejects(pool.submit((x: number) => x * z, 2), (error: Error) => {
        assert.ok(error instanceof RemoteError, String(error));
        assert.match(error.message, hint);
        return true;
      });
      await assert.rejects(pool.submit(async (x: number) => { await Promise.resolve(); return x * z; }, 2), hint);
      // Self-contained functions still run, and other errors are left as they are.
      assert.equal(await pool.submit((x: number) => x * 3, 2), 6);
      await assert.rejects(pool.submit(() => { throw new RangeError('mine'); }), (error: Error) => error.message.includes('mine') && !error.message.includes('source text'));
    });
  }
});
