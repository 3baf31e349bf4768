import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_COMPLETED, asCompleted, FIRST_COMPLETED, FIRST_EXCEPTION, Future, gather, TimeoutError, wait } from '../../src/index.js';
import { futureInternals as fi } from '../../src/core/future.js';

function running<T = unknown>(): Future<T> {
  const f = new Future<T>();
  fi.setRunning(f);
  return f;
}

describe('asCompleted', () => {
  test('yields futures in the order they finish, finished ones first', async () => {
    const [a, b, c] = [running(), running(), running()];
    fi.setResult(b, 'b');
    const order: unknown[] = [];
    const consuming = (async () => { for await (const f of asCompleted([a, b, c])) order.push(f); })();
    await new Promise((resolve) => setImmediate(resolve));
    fi.setResult(c, 'c');
    await new Promise((resolve) => setImmediate(resolve));
    fi.setException(a, new Error('a'));
    await consuming;
    assert.deepEqual(order, [b, c, a]);
  });

  test('throws TimeoutError when not all finish in time', async () => {
    const [a, b] = [running(), running()];
    fi.setResult(a, 1);
    const got: unknown[] = [];
    await assert.rejects(async () => { for await (const f of asCompleted([a, b], { timeout: 20 })) got.push(f); },
      (e: Error) => e instanceof TimeoutError && /1 \(of 2\) futures unfinished after 20 ms/.test(e.message));
    assert.deepEqual(got, [a]);
  });

  test('bad input', () => {
    assert.throws(() => asCompleted(5 as never), TypeError);
  });
});

describe('wait', () => {
  test('FIRST_COMPLETED returns when one finishes', async () => {
    const [a, b] = [running(), running()];
    const waiting = wait([a, b], { returnWhen: FIRST_COMPLETED });
    fi.setResult(b, 1);
    const { done, notDone } = await waiting;
    assert.deepEqual([...done], [b]);
    assert.deepEqual([...notDone], [a]);
  });

  test('FIRST_EXCEPTION returns at the first failure, not at a success', async () => {
    const [a, b, c] = [running(), running(), running()];
    const waiting = wait([a, b, c], { returnWhen: FIRST_EXCEPTION });
    let resolved = false;
    void waiting.then(() => { resolved = true; });
    fi.setResult(a, 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(resolved, false);
    fi.setException(b, new Error('x'));
    const { done, notDone } = await waiting;
    assert.deepEqual(new Set(done), new Set([a, b]));
    assert.deepEqual([...notDone], [c]);
  });

  test('FIRST_EXCEPTION also returns when all finish without failing', async () => {
    const [a, b] = [running(), running()];
    const waiting = wait([a, b], { returnWhen: FIRST_EXCEPTION });
    fi.setResult(a, 1);
    fi.setResult(b, 2);
    assert.equal((await waiting).done.size, 2);
  });

  test('ALL_COMPLETED waits for all; the timeout returns what is done without rejecting', async () => {
    const [a, b] = [running(), running()];
    fi.setResult(a, 1);
    const partial = await wait([a, b], { returnWhen: ALL_COMPLETED, timeout: 15 });
    assert.deepEqual([...partial.done], [a]);
    assert.deepEqual([...partial.notDone], [b]);
    const all = wait([a, b]);
    b.cancel();
    assert.equal((await all).done.size, 2);
  });

  test('bad input says what was expected', () => {
    assert.throws(() => wait([new Future()], { returnWhen: 'SOMETIMES' as never }), /Expected `returnWhen` to be FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED, got "SOMETIMES" \(string\)/);
    assert.throws(() => wait([1 as never]), /Expected `each future` to be a Future, got 1 \(number\)/);
  });
});

describe('gather', () => {
  test('resolves with the results in order, or rejects with the first error', async () => {
    const [a, b] = [running<number>(), running<string>()];
    const both = gather([a, b] as const);
    fi.setResult(b, 'two');
    fi.setResult(a, 1);
    const [one, two] = await both;
    assert.equal(one, 1);
    assert.equal(two, 'two');
    const c = running();
    const failing = gather([c]);
    fi.setException(c, new Error('nope'));
    await assert.rejects(failing, /nope/);
  });
});
