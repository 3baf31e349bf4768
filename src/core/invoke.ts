import { runWithContext, runWithSyncContext, type TaskContext } from './context.js';

/**
 * Runs a task function here, inside its context, and turns whatever it returns into one
 * outcome: a value, a promise of one, or, for generator functions, the values streamed to
 * `onValue` and then the generator's return value. Shared by every executor that runs code in
 * this thread, by the worker side of the pools and by remote objects (whose methods need
 * `thisArg`), so all of them treat results alike.
 */
export function invokeTask<C extends TaskContext>(
  fn: (...args: any[]) => unknown,
  args: readonly unknown[],
  context: C,
  onValue: (context: C, value: unknown) => void,
  thisArg?: unknown,
  asyncContext = true,
): unknown {
  const out = asyncContext
    ? runWithContext(context, applyFn, fn, args, thisArg)
    : runWithSyncContext(context, applyFn, fn, args, thisArg);
  if (out === null || typeof out !== 'object') return out;
  if (isIterator(out)) {
    if (Symbol.asyncIterator in out) return drainAsyncGenerator(out as AsyncGenerator, context, onValue);
    if (Symbol.iterator in out) return drainGenerator(out as Generator, context, onValue);
  }
  return out;
}

/**
 * Runs `fn` over each call of a chunk, one after the other; resolves to the results. A call is
 * an argument list, or with `single` one argument (map's items, sent without wrapping).
 */
export function invokeChunk(
  fn: (...args: any[]) => unknown,
  calls: readonly unknown[],
  context: TaskContext,
  asyncContext = true,
  single = false,
): unknown[] | Promise<unknown[]> {
  const results: unknown[] = new Array(calls.length);
  for (let i = 0; i < calls.length; i++) {
    const out = invokeTask(fn, argsOf(calls, i, single), context, ignoreValue, undefined, asyncContext);
    if (isPromiseLike(out)) return finishChunkAsync(fn, calls, single, context, results, i, out, asyncContext);
    results[i] = out;
  }
  return results;
}

function argsOf(calls: readonly unknown[], index: number, single: boolean): readonly unknown[] {
  return single ? [calls[index]] : calls[index] as readonly unknown[];
}

async function finishChunkAsync(
  fn: (...args: any[]) => unknown,
  calls: readonly unknown[],
  single: boolean,
  context: TaskContext,
  results: unknown[],
  from: number,
  pending: PromiseLike<unknown>,
  asyncContext: boolean,
): Promise<unknown[]> {
  results[from] = await pending;
  for (let i = from + 1; i < calls.length; i++) {
    results[i] = await invokeTask(fn, argsOf(calls, i, single), context, ignoreValue, undefined, asyncContext);
  }
  return results;
}

function applyFn(fn: (...args: any[]) => unknown, args: readonly unknown[], thisArg: unknown): unknown {
  return thisArg === undefined ? fn(...args) : Reflect.apply(fn, thisArg, args);
}

/** Values yielded inside a chunk have no consumer: a chunk's result is its list of returns. */
function ignoreValue(): void {}

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

function isIterator(value: object): boolean {
  return typeof (value as Iterator<unknown>).next === 'function' && typeof (value as Generator).throw === 'function';
}

function drainGenerator<C extends TaskContext>(gen: Generator, context: C, onValue: (context: C, value: unknown) => void): unknown {
  for (;;) {
    const step = runWithContext(context, () => gen.next());
    if (step.done) return step.value;
    onValue(context, step.value);
    // A cancelled consumer stops the generator between values rather than at the end.
    if (context.signal.aborted) {
      gen.return(undefined);
      throw context.signal.reason;
    }
  }
}

async function drainAsyncGenerator<C extends TaskContext>(gen: AsyncGenerator, context: C, onValue: (context: C, value: unknown) => void): Promise<unknown> {
  for (;;) {
    const step = await runWithContext(context, () => gen.next());
    if (step.done) return step.value;
    onValue(context, step.value);
    if (context.signal.aborted) {
      await gen.return(undefined);
      throw context.signal.reason;
    }
  }
}
