import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Job, RUN_AS, type JobOwner } from '../../src/core/job.js';
import { LazyAbortContext } from '../../src/core/lazy-abort.js';
import { defineTasks, type TaskOptions } from '../../src/index.js';

const owner: JobOwner = { jobCancelled: () => {} };
const tasks = defineTasks(import.meta.url, { echo: (x: unknown) => x });

// Job and LazyAbortContext keep rare state out of line (a million green jobs may be pending):
// these tests hold that the packed and lazily made parts behave as plain fields did.
describe('Job', () => {
  test('kind, queued and finalized are independent packed flags', () => {
    for (const kind of ['call', 'chunk', 'items'] as const) {
      const job = new Job(owner, () => 1, [], kind, undefined);
      assert.equal(job.kind, kind);
      assert.equal(job.queued, false);
      job.queued = true;
      job.finalized = true;
      assert.deepEqual([job.kind, job.queued, job.finalized], [kind, true, true]);
      job.queued = false;
      assert.deepEqual([job.kind, job.queued, job.finalized], [kind, false, true]);
    }
  });

  test('timer, slot and observed read back what was set, and release clears the timer', () => {
    const job = new Job(owner, () => 1, [], 'call', undefined);
    assert.deepEqual([job.timer, job.slot, job.observed], [undefined, undefined, undefined]);
    const slot = { worker: 1 };
    job.slot = slot;
    job.observed = 'state';
    let fired = false;
    job.timer = setTimeout(() => (fired = true), 60_000);
    assert.equal(job.slot, slot);
    assert.equal(job.observed, 'state');
    job.release();
    assert.equal(job.timer, undefined);
    assert.equal(fired, false);
    job.slot = undefined;
    assert.equal(job.slot, undefined);
  });

  test('the running attempt shares the packed state: it follows beginAttempt, reads 0 once the slot is given up, and leaves kind and flags alone', () => {
    const job = new Job(owner, () => 1, [], 'items', undefined);
    job.queued = true;
    assert.deepEqual([job.attempt, job.runningAttempt], [0, 0]);
    assert.equal(job.beginAttempt(), 1);
    assert.deepEqual([job.attempt, job.runningAttempt], [1, 1]);
    job.runningAttempt = 0;
    assert.deepEqual([job.attempt, job.runningAttempt], [1, 0], 'giving the slot up keeps the attempt number');
    assert.equal(job.beginAttempt(), 2);
    job.attempt = 5; // a broker redelivery raises the count of a running attempt
    assert.deepEqual([job.attempt, job.runningAttempt], [5, 5]);
    job.runningAttempt = 0;
    job.attempt--; // requeued: the attempt that never started is taken back
    assert.deepEqual([job.attempt, job.runningAttempt, job.kind, job.queued, job.finalized], [4, 0, 'items', true, false]);
  });

  test('options come from the task reference, and RUN_AS sets the id and attempt', () => {
    const plain = new Job(owner, () => 1, [], 'call', undefined);
    assert.deepEqual(plain.options, {});
    const ref = tasks.echo.with({ priority: 3, [RUN_AS]: { id: 'remote-7', attempt: 2 } } as TaskOptions);
    const job = new Job(owner, ref.fn, ['x'], 'call', ref);
    assert.equal(job.options.priority, 3);
    assert.equal(job.id, 'remote-7');
    assert.equal(job.beginAttempt(), 2);
  });

  test('a caller signal that aborts cancels the future, and release stops listening', async () => {
    const controller = new AbortController();
    const job = new Job(owner, () => 1, [], 'call', tasks.echo.with({ signal: controller.signal }));
    controller.abort();
    assert.equal(job.future.state, 'cancelled');
    const later = new AbortController();
    const released = new Job(owner, () => 1, [], 'call', tasks.echo.with({ signal: later.signal }));
    released.release();
    later.abort();
    assert.equal(released.future.state, 'pending');
  });
});

class Context extends LazyAbortContext {
  reset(): void {
    this.resetAbort();
  }
}

describe('LazyAbortContext', () => {
  test('aborting before the signal is read keeps the reason for the signal made later', () => {
    const context = new Context();
    const reason = new Error('stop');
    context.abort(reason);
    context.abort(new Error('ignored'));
    assert.equal(context.aborted, true);
    assert.equal(context.signal.aborted, true);
    assert.equal(context.signal.reason, reason);
  });

  test('aborting after the signal is read aborts that signal; abort(undefined) counts, as an AbortError', () => {
    const context = new Context();
    const { signal } = context;
    assert.equal(context.aborted, false);
    context.abort();
    assert.equal(context.aborted, true);
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as DOMException).name, 'AbortError');
    const unread = new Context();
    unread.abort(undefined);
    assert.equal(unread.aborted, true);
    assert.equal((unread.signal.reason as DOMException).name, 'AbortError');
  });

  test('a reset gives a fresh signal after an abort, and keeps an unaborted one', () => {
    const context = new Context();
    const first = context.signal;
    context.reset();
    assert.equal(context.signal, first, 'not aborted: same signal');
    context.abort('x');
    context.reset();
    assert.equal(context.aborted, false);
    assert.notEqual(context.signal, first);
    assert.equal(context.signal.aborted, false);
  });
});
