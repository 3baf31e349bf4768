import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CancelledError, Future, InvalidStateError, TimeoutError } from '../../src/index.js';
import { futureInternals as fi } from '../../src/core/future.js';

function running<T = unknown, Y = unknown>(): Future<T, Y> {
  const f = new Future<T, Y>();
  fi.setRunning(f);
  return f;
}

describe('Future state machine', () => {
  test('pending → running → done', async () => {
    const f = new Future<number>();
    assert.equal(f.state as string, 'pending');
    fi.setRunning(f);
    assert.equal(f.state as string, 'running');
    assert.equal(f.done(), false);
    fi.setResult(f, 7);
    assert.equal(f.state as string, 'done');
    assert.equal(f.done(), true);
    assert.equal(await f, 7);
    assert.equal(await f.result(), 7);
    assert.equal(await f.exception(), undefined);
  });

  test('pending → running → failed', async () => {
    const f = running<number>();
    const error = new Error('bad');
    fi.setException(f, error);
    assert.equal(f.state as string, 'failed');
    await assert.rejects(f, (e) => e === error);
    assert.equal(await f.exception(), error);
  });

  test('pending → cancelled and running → cancelled', async () => {
    const pending = new Future();
    assert.equal(pending.cancel(), true);
    assert.equal(pending.state as string, 'cancelled');
    await assert.rejects(pending, CancelledError);
    await assert.rejects(pending.exception(), CancelledError);
    const active = running();
    assert.equal(active.cancel(), true);
    assert.equal(active.state as string, 'cancelled');
  });

  test('every illegal transition throws InvalidStateError and changes nothing', () => {
    const pending = new Future();
    assert.throws(() => fi.setResult(pending, 1), InvalidStateError);
    assert.throws(() => fi.setException(pending, new Error()), InvalidStateError);
    assert.throws(() => fi.pushValue(pending, 1), InvalidStateError);
    assert.equal(pending.state as string, 'pending');

    const active = running();
    assert.throws(() => fi.setRunning(active), InvalidStateError);
    assert.equal(active.state as string, 'running');

    for (const finish of [
      (f: Future) => fi.setResult(f, 1),
      (f: Future) => fi.setException(f, new Error('x')),
      (f: Future) => f.cancel(),
    ]) {
      const f = running();
      finish(f);
      const state = f.state;
      assert.throws(() => fi.setRunning(f), InvalidStateError);
      assert.throws(() => fi.setResult(f, 2), InvalidStateError);
      assert.throws(() => fi.setException(f, new Error('y')), InvalidStateError);
      assert.throws(() => fi.pushValue(f, 2), InvalidStateError);
      assert.equal(f.cancel(), false, `cancel of a ${state} future`);
      assert.equal(f.state as string, state);
    }
  });

  test('the error message names the future, its state and the expected one', () => {
    const f = new Future('job-9');
    assert.throws(() => fi.setResult(f, 1), /cannot set the result of future job-9: it is pending, expected running/);
  });

  test('result(timeout) rejects with TimeoutError while the future keeps running', async () => {
    const f = running<string>();
    await assert.rejects(f.result(10), (e: Error) => e instanceof TimeoutError && /did not finish within 10 ms \(state: running\)/.test(e.message));
    assert.equal(f.state as string, 'running');
    fi.setResult(f, 'late');
    assert.equal(await f.result(10), 'late');
  });

  test('result() validates its timeout', () => {
    const f = running();
    assert.throws(() => f.result(-1), (e: Error) => e instanceof RangeError && e.message === 'Expected `timeoutMs` to be a non-negative finite number of milliseconds, got -1 (number)');
    assert.throws(() => f.result('5' as unknown as number), TypeError);
  });

  test('onDone runs once the future finishes, and at once when it already has', () => {
    const f = running<number>();
    const calls: string[] = [];
    f.onDone((x) => calls.push(`first ${x.state}`));
    f.onDone(() => calls.push('second'));
    assert.equal(calls.length, 0);
    fi.setResult(f, 1);
    assert.deepEqual(calls, ['first done', 'second']);
    f.onDone(() => calls.push('late'));
    assert.deepEqual(calls, ['first done', 'second', 'late']);
  });

  test('a throwing onDone callback does not stop the others', async () => {
    const f = running<number>();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    let reached = false;
    f.onDone(() => { throw new Error('callback bug'); });
    f.onDone(() => { reached = true; });
    fi.setResult(f, 1);
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    assert.equal(reached, true);
    assert.deepEqual(warnings, ['WeftCallbackWarning']);
  });

  test('onProgress receives reported values', () => {
    const f = running();
    const seen: unknown[] = [];
    f.onProgress((v) => seen.push(v));
    fi.reportProgress(f, 0.5);
    fi.reportProgress(f, 1);
    assert.deepEqual(seen, [0.5, 1]);
  });

  test('a failed future nobody awaits does not raise an unhandled rejection', async () => {
    let unhandled = 0;
    const onUnhandled = () => unhandled++;
    process.on('unhandledRejection', onUnhandled);
    const f = running();
    fi.setException(f, new Error('ignored'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    process.off('unhandledRejection', onUnhandled);
    assert.equal(unhandled, 0);
  });

  test('async iteration streams values, ends at done, throws on failure, one consumer only', async () => {
    const f = running<string, number>();
    fi.pushValue(f, 1);
    const seen: number[] = [];
    const consuming = (async () => { for await (const v of f) seen.push(v); })();
    fi.pushValue(f, 2);
    fi.setResult(f, 'end');
    await consuming;
    assert.deepEqual(seen, [1, 2]);
    assert.throws(() => f[Symbol.asyncIterator](), InvalidStateError);

    const failing = running<void, number>();
    fi.pushValue(failing, 1);
    fi.setException(failing, new Error('mid-stream'));
    const got: number[] = [];
    await assert.rejects(async () => { for await (const v of failing) got.push(v); }, /mid-stream/);
    assert.deepEqual(got, [1]);
  });

  test('breaking out of the iteration cancels the future', async () => {
    const f = running<void, number>();
    fi.pushValue(f, 1);
    fi.pushValue(f, 2);
    for await (const v of f) {
      assert.equal(v, 1);
      break;
    }
    assert.equal(f.state as string, 'cancelled');
  });

  test('a future is a Promise to the type system and to Promise helpers', async () => {
    const f = running<number>();
    fi.setResult(f, 3);
    const all = await Promise.all([f, Promise.resolve(4)]);
    assert.deepEqual(all, [3, 4]);
    assert.equal(Object.prototype.toString.call(f), '[object Future]');
    assert.equal(await f.finally(() => {}), 3);
  });
});

describe('Future as a thenable (then without native promises while pending)', () => {
  /** A native promise and its resolvers, to run the same scenario on both. */
  function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  }

  /** Chains, a followed promise, a throwing handler and microtask markers, logged in run order. */
  async function scenario(source: PromiseLike<number>, settle: () => void): Promise<string[]> {
    const log: string[] = [];
    const chains = [
      Promise.resolve(source.then((v) => { log.push(`a1:${v}`); return v + 1; }).then((v) => { log.push(`a2:${v}`); })),
      Promise.resolve(source.then((v) => { log.push(`b1:${v}`); return Promise.resolve(v * 10); }).then((v) => { log.push(`b2:${v}`); })),
      Promise.resolve(source.then(() => { log.push('c1'); throw new Error('c'); }).then(() => log.push('c2: not reached'), (e: Error) => { log.push(`c3:${e.message}`); })),
    ];
    settle();
    const markers = Promise.resolve().then(() => log.push('m1')).then(() => log.push('m2')).then(() => log.push('m3')).then(() => log.push('m4'));
    await Promise.all([...chains, markers]);
    return log;
  }

  test('handlers run in the same microtask order as on a native promise', async () => {
    const native = deferred<number>();
    const expected = await scenario(native.promise, () => native.resolve(2));
    const f = running<number>();
    const got = await scenario(f, () => fi.setResult(f, 2));
    assert.deepEqual(got, expected);
    assert.ok(got.includes('a2:3') && got.includes('b2:20') && got.includes('c3:c'), got.join());
  });

  test('rejections pass through chains without a handler; onDone runs before any handler', async () => {
    const f = running<number>();
    const order: string[] = [];
    const caught = f.then((v) => v * 2).then((v) => v + 1).catch((e: Error) => { order.push('catch'); return e.message; });
    f.onDone(() => order.push('onDone'));
    fi.setException(f, new Error('bad'));
    assert.equal(await caught, 'bad');
    assert.deepEqual(order, ['onDone', 'catch']);
  });

  test('a chain follows a returned future, and resolving a chain with itself fails with TypeError', async () => {
    const f = running<number>();
    const inner = running<string>();
    const chained = f.then(() => inner);
    fi.setResult(f, 1);
    fi.setResult(inner, 'inner');
    assert.equal(await chained, 'inner');

    const g = running<number>();
    const self: Promise<unknown> = g.then(() => self);
    fi.setResult(g, 1);
    await assert.rejects(self, TypeError);
  });

  test('cancelling the source rejects its chains with CancelledError', async () => {
    const f = running<number>();
    const chained = f.then((v) => v + 1);
    f.cancel();
    await assert.rejects(chained, CancelledError);
  });

  test('a failing chain nobody follows is an unhandled rejection, as with a native promise', () => {
    // In a child process: the test runner turns an unhandled rejection into a failure of its own.
    const futureModule = new URL('../../src/core/future.js', import.meta.url).href;
    const script = `import { Future, futureInternals as fi } from ${JSON.stringify(futureModule)};
      process.on('unhandledRejection', (e) => { console.log('unhandled:' + e.message); });
      const f = new Future(); fi.setRunning(f);
      void f.then(() => { throw new Error('nobody catches this'); });
      const quiet = new Future(); fi.setRunning(quiet); fi.setException(quiet, new Error('a bare failed future'));
      fi.setResult(f, 1);`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(out.trim(), 'unhandled:nobody catches this');
  });

  test('awaiting a failed future, or a chain caught later in the same tick, raises no unhandled rejection', async () => {
    let unhandled = 0;
    const onUnhandled = () => unhandled++;
    process.on('unhandledRejection', onUnhandled);
    try {
      const f = running<number>();
      const all = Promise.all([f]).catch((e: Error) => e.message);
      const chain = f.then((v) => v);
      fi.setException(f, new Error('failed'));
      await Promise.resolve();
      await Promise.resolve();
      const late = chain.catch((e: Error) => e.message);
      assert.deepEqual(await Promise.all([all, late]), ['failed', 'failed']);
      // Node reports unhandled rejections once the microtask queue drains; two turns of the
      // event loop are past that point.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.equal(unhandled, 0);
  });

  test('result() made before onProgress and iteration still settles (the promise moves into the extras record)', async () => {
    const f = running<string, number>();
    const early = f.result();
    const progress: unknown[] = [];
    f.onProgress((v) => progress.push(v));
    fi.reportProgress(f, 0.5);
    fi.pushValue(f, 1);
    const seen: number[] = [];
    const consuming = (async () => { for await (const v of f) seen.push(v); })();
    fi.setResult(f, 'end');
    await consuming;
    assert.equal(await early, 'end');
    assert.equal(await f.result(), 'end');
    assert.deepEqual(progress, [0.5]);
    assert.deepEqual(seen, [1]);
  });

  test('then on a pending future returns a Future; on a finished one, a native promise', async () => {
    const f = running<number>();
    const chained = f.then((v) => v + 1);
    assert.ok(chained instanceof Future);
    fi.setResult(f, 1);
    assert.equal(await chained, 2);
    const after = f.then((v) => v + 2);
    assert.ok(after instanceof Promise);
    assert.equal(await after, 3);
  });
});
