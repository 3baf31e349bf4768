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
