import { CancelledError, TimeoutError } from './errors.js';
import { Deque } from './deque.js';
import { futureInternals, type Future } from './future.js';
import { checkMilliseconds, checkPositiveInteger, checkSignal, expected } from './validate.js';

/** Options of map, imap, imapUnordered and starmap. */
export interface MapOptions {
  /**
   * Items sent to a worker per message (one attempt: a task's `timeout` and `retries` apply to
   * the chunk). @default chosen by the executor: 1 for inline and green and for tasks with a
   * timeout or retries; pools and the cluster cut guided chunks for map/starmap over an array
   */
  chunksize?: number;
  /** Most chunks in flight at once. @default unbounded for map/starmap, a small multiple of the executor's capacity for imap */
  concurrency?: number;
  /** Milliseconds for the whole call; on expiry it rejects with TimeoutError and cancels what is left. */
  timeout?: number;
  /** Aborting it rejects the call with CancelledError and cancels what is left. */
  signal?: AbortSignal;
}

export interface MapPlan {
  /** Items per batch; with `guided`, the fewest a batch takes (the last ones). */
  chunksize: number;
  /**
   * Guided chunking over an array: each batch takes the items left divided by `divisor` (at
   * most `maxChunk`, at least `chunksize`), so the first batches are large (few messages) and
   * the last small (workers finish together instead of one waiting on another).
   */
  guided?: { divisor: number; maxChunk: number };
  window: number;
  timeout: number | undefined;
  signal: AbortSignal | undefined;
}

export function checkMapOptions(options: unknown): MapOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
  const o = options as MapOptions;
  if (o.chunksize !== undefined) checkPositiveInteger('chunksize', o.chunksize);
  if (o.concurrency !== undefined) checkPositiveInteger('concurrency', o.concurrency, true);
  if (o.timeout !== undefined) checkMilliseconds('timeout', o.timeout);
  if (o.signal !== undefined) checkSignal('signal', o.signal);
  return o;
}

/**
 * Submits one batch pulled from the source (map: items; starmap: argument lists): a single call
 * when the plan is not chunked, else a chunk.
 */
export type SubmitBatch = (batch: unknown[]) => Future<any, any>;

/** An array's items, taken by slices (an array is all there already: nothing to pull lazily). */
class ArrayCursor {
  index = 0;
  constructor(readonly array: readonly unknown[]) {}
}

type Source = ArrayCursor | Iterator<unknown> | AsyncIterator<unknown>;

export function toSource(items: unknown): Source {
  if (Array.isArray(items)) return new ArrayCursor(items);
  const iterator = isAsyncIterable(items)
    ? items[Symbol.asyncIterator]()
    : isIterable(items) ? items[Symbol.iterator]() : undefined;
  if (!iterator) throw new TypeError(expected('items', 'an iterable or async iterable', items));
  return iterator;
}

/** Whether the plan sends items in chunks (a future's value is then the list of its items' results). */
export function isChunked(plan: MapPlan): boolean {
  return plan.chunksize > 1 || plan.guided !== undefined;
}

/** imap/imapUnordered: one result per item. */
export function streamResults<R>(source: Source, submit: SubmitBatch, plan: MapPlan, ordered: boolean): AsyncGenerator<R> {
  const outcomes = streamOutcomes(source, submit, plan, ordered);
  return isChunked(plan) ? flatten(outcomes as AsyncGenerator<R[]>) : outcomes as AsyncGenerator<R>;
}

/** map/starmap: every result in order; a chunk's results are added at once, not yielded one by one. */
export async function collectResults<R>(source: Source, submit: SubmitBatch, plan: MapPlan): Promise<R[]> {
  const out: R[] = [];
  const chunked = isChunked(plan);
  for await (const value of streamOutcomes(source, submit, plan, true)) {
    if (!chunked) out.push(value as R);
    else for (const item of value as R[]) out.push(item);
  }
  return out;
}

async function* flatten<R>(batches: AsyncGenerator<R[]>): AsyncGenerator<R> {
  for await (const batch of batches) yield* batch;
}

/**
 * The one implementation of imap/imapUnordered/map/starmap: yields each submitted future's value.
 * At most `window` batches are in flight; nothing more is pulled from the source until the
 * consumer takes a result, and breaking out cancels what is in flight and closes the source.
 */
async function* streamOutcomes(source: Source, submit: SubmitBatch, plan: MapPlan, ordered: boolean): AsyncGenerator<unknown> {
  const guard = new MapGuard(plan);
  const inflight = new Deque<Future<any>>(); // ordered: in submission order
  const unsettled = new Set<Future<any>>(); // every future not yet handed to the consumer
  const finished = new Deque<Future<any>>(); // unordered: in completion order
  let wake: (() => void) | undefined;
  const onFinished = (future: Future<any>) => {
    finished.push(future);
    wake?.();
  };
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && unsettled.size < plan.window) {
        const size = batchSize(plan, source);
        const pulled = pullBatch(source, size);
        const batch = isThenable(pulled) ? await pulled : pulled;
        if (batch.length > 0) {
          const future = submit(batch);
          unsettled.add(future);
          if (ordered) inflight.push(future);
          else future.onDone(onFinished);
        }
        if (batch.length < size) exhausted = true;
      }
      let next: Future<any> | undefined;
      if (ordered) {
        next = inflight.shift();
      } else {
        while (finished.length === 0 && unsettled.size > 0) {
          await guard.race(new Promise<void>((resolve) => (wake = resolve)));
          wake = undefined;
        }
        next = finished.shift();
      }
      if (!next) return;
      const value = next.done() ? settledValue(next) : await guard.race(next);
      unsettled.delete(next);
      yield value;
    }
  } finally {
    guard.dispose();
    for (const future of unsettled) future.cancel();
    if (!exhausted && !(source instanceof ArrayCursor)) await source.return?.();
  }
}

function batchSize({ chunksize, guided }: MapPlan, source: Source): number {
  if (!guided || !(source instanceof ArrayCursor)) return chunksize;
  const left = source.array.length - source.index;
  return Math.max(chunksize, Math.min(guided.maxChunk, Math.ceil(left / guided.divisor)));
}

/** Pulls up to `size` items; synchronously while the source is synchronous. */
function pullBatch(source: Source, size: number): unknown[] | Promise<unknown[]> {
  if (source instanceof ArrayCursor) {
    const batch = source.array.slice(source.index, source.index + size);
    source.index += batch.length;
    return batch;
  }
  const batch: unknown[] = [];
  while (batch.length < size) {
    const step = source.next();
    if (isThenable(step)) return finishBatchAsync(source, size, batch, step);
    if (step.done) break;
    batch.push(step.value);
  }
  return batch;
}

async function finishBatchAsync(source: Iterator<unknown> | AsyncIterator<unknown>, size: number, batch: unknown[], pending: PromiseLike<IteratorResult<unknown>>): Promise<unknown[]> {
  for (let step = await pending; !step.done; step = await source.next()) {
    batch.push(step.value);
    if (batch.length >= size) break;
  }
  return batch;
}

/** A finished future's value without waiting a tick; throws its error. */
function settledValue(future: Future<any>): unknown {
  const outcome = futureInternals.outcome(future);
  if (future.state === 'done') return outcome;
  throw outcome;
}

/** Enforces a map call's overall timeout and signal while it waits. */
class MapGuard {
  #stop: Promise<never> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  constructor(plan: MapPlan) {
    if (plan.timeout === undefined && plan.signal === undefined) return;
    this.#stop = new Promise<never>((_, reject) => {
      if (plan.timeout !== undefined) {
        const ms = plan.timeout;
        this.#timer = setTimeout(() => reject(new TimeoutError(`map did not finish within ${ms} ms`)), ms);
      }
      const signal = plan.signal;
      if (signal) {
        const abort = () => reject(new CancelledError('map was aborted by its signal', { cause: signal.reason }));
        if (signal.aborted) abort();
        else {
          this.#signal = signal;
          this.#onAbort = abort;
          signal.addEventListener('abort', abort, { once: true });
        }
      }
    });
    this.#stop.catch(() => {});
  }

  race<T>(promise: PromiseLike<T>): Promise<T> {
    return this.#stop ? Promise.race([promise, this.#stop]) : Promise.resolve(promise);
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#onAbort) this.#signal?.removeEventListener('abort', this.#onAbort);
  }
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T>)?.then === 'function';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value != null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return value != null && typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function';
}
