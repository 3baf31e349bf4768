import { TimeoutError } from '../core/errors.js';
import { checkMilliseconds, checkSignal, expected } from '../core/validate.js';

/**
 * The one place every primitive waits: `Atomics.waitAsync` on a word of shared memory, which
 * never blocks the event loop and is woken by `Atomics.notify` from any thread.
 *
 * Two things waitAsync does not do, done here:
 * - Keep the thread alive. A pending waitAsync is not an event-loop handle, so a worker (or a
 *   main thread) that only waits for a lock would exit. While any wait is pending in this
 *   thread, one long ref'd interval holds the loop open.
 * - Be cancelled. A wait given up on abort stays in V8's waiter list; when a notify later wakes
 *   it, it passes the wake-up on (notify 1), so that no live waiter misses it.
 */

export type WaitOutcome = 'ok' | 'not-equal' | 'timed-out';

// SharedArrayBuffer growth and Atomics.waitAsync are typed in src/types/shared-memory.d.ts
// (not in the emitted declarations: they would clash with a consumer's lib es2024).

let pendingWaits = 0;
// Made once and ref'd only while a wait is pending: toggling ref is far cheaper than making and
// clearing a timer for every wait.
let keepAlive: ReturnType<typeof setInterval> | undefined;

function hold(): void {
  if (pendingWaits++ === 0) (keepAlive ??= setInterval(noop, 0x7fffffff)).ref();
}

function letGo(): void {
  if (--pendingWaits === 0) keepAlive!.unref();
}

function noop(): void {}

/** A deadline on performance.now()'s clock; Infinity when there is no timeout. */
export function deadlineOf(timeout: number | undefined): number {
  return timeout === undefined ? Infinity : performance.now() + timeout;
}

/** Milliseconds left before `deadline`, never negative. */
export function remaining(deadline: number): number {
  return deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
}

/**
 * Waits while `i32[index] === value`, until a notify, the deadline or `signal` aborts (which
 * rejects with its reason).
 */
export function waitWord(i32: Int32Array, index: number, value: number, deadline: number, signal?: AbortSignal): Promise<WaitOutcome> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const result = Atomics.waitAsync(i32, index, value, remaining(deadline));
  if (!result.async) return Promise.resolve(result.value);
  hold();
  if (!signal) return result.value.finally(letGo);
  return new Promise((resolve, reject) => {
    let abandoned = false;
    const onAbort = (): void => {
      abandoned = true;
      letGo();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    void result.value.then((outcome) => {
      if (abandoned) {
        if (outcome === 'ok') Atomics.notify(i32, index, 1);
        return;
      }
      signal.removeEventListener('abort', onAbort);
      letGo();
      resolve(outcome);
    });
  });
}

/** Options every waiting method takes. */
export interface WaitOptions {
  /** Milliseconds to wait at most; 0 tries once without waiting. @default no limit */
  timeout?: number;
  /**
   * Gives up the wait when it aborts (rejecting with its reason). Only in the thread or process
   * that owns the memory: a signal cannot cross to a parent process.
   */
  signal?: AbortSignal;
}

export interface CheckedWait {
  timeout: number | undefined;
  deadline: number;
  signal: AbortSignal | undefined;
}

const NO_WAIT_OPTIONS: CheckedWait = Object.freeze({ timeout: undefined, deadline: Infinity, signal: undefined });

/** Validates a waiting method's options and starts its clock. */
export function checkWaitOptions(options: unknown): CheckedWait {
  if (options === undefined) return NO_WAIT_OPTIONS;
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object such as { timeout: 100 }', options));
  const { timeout, signal } = options as WaitOptions;
  if (timeout !== undefined) checkMilliseconds('timeout', timeout);
  if (signal !== undefined) checkSignal('signal', signal);
  return { timeout, deadline: deadlineOf(timeout), signal };
}

export function timeoutError(what: string, timeout: number | undefined): TimeoutError {
  return new TimeoutError(`${what} timed out after ${timeout} ms`);
}
