import { availableParallelism } from 'node:os';
import { CancelledError } from '../core/errors.js';
import type { Executor } from '../core/executor.js';
import { futureInternals, type Future } from '../core/future.js';
import type { TaskOptions, TaskRef } from '../core/task.js';
import { checkMilliseconds, checkNonNegativeInteger, checkPositiveInteger, checkFiniteNumber, checkSignal, expected } from '../core/validate.js';
import partitionTasks from './partition-task.js';
import type { Stage } from './plan.js';

/**
 * Runs a Bag's stages on an executor, from the caller's side:
 *
 *   source ─▶ partitions (pulled while fewer than `concurrency` are in flight) ─▶ submit
 *     runPartition(stage.addresses, stage.spec, partition) ─▶ one future per partition
 *   futures ─▶ results, handed on in partition order ─▶ a shuffle: bucket r of every result
 *     becomes partition r of the next stage │ the last stage: the action merges them
 *
 * Stages run one after the other (a reduce partition needs a bucket from every map partition).
 * The first partition to fail for good (after the executor's retries) rejects the computation
 * and cancels every partition still queued or running; so does the `signal`. Nothing here knows
 * which executor runs the tasks: only `submit` and the futures it returns.
 */
export interface ComputeOptions {
  /** Cancels every partition still queued or running; the computation rejects with CancelledError. */
  signal?: AbortSignal;
  /** Called as partitions finish, and with what steps report through `taskContext().progress()`. */
  onProgress?: (event: PartitionProgress) => void;
  /** Attempts after the first for a failed partition, as the executor retries tasks. @default 0 */
  retries?: number;
  /** Milliseconds before the first retry; doubles each retry. @default the executor's (100) */
  retryDelay?: number;
  /** Milliseconds one attempt of one partition may run. */
  timeout?: number;
  /** Priority of the partition tasks among the executor's queued tasks. @default 0 */
  priority?: number;
  /**
   * Most partitions in flight at once. @default every partition of an array or a shuffle at
   * once (they are in memory already: the executor queues them); when the input streams or for
   * take(), twice this machine's available parallelism, at least 4
   */
  concurrency?: number;
}

export type PartitionProgress =
  /** A partition finished: `done` of its stage's `partitions` (undefined while streaming). */
  | { type: 'done'; stage: number; stages: number; partition: number; done: number; partitions: number | undefined }
  /** A step of a running partition called `taskContext().progress(value)`. */
  | { type: 'progress'; stage: number; stages: number; partition: number; value: unknown };

export function checkComputeOptions(options: unknown): ComputeOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
  const o = options as ComputeOptions;
  if (o.signal !== undefined) checkSignal('signal', o.signal);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError(expected('onProgress', 'a function', o.onProgress));
  if (o.retries !== undefined) checkNonNegativeInteger('retries', o.retries);
  if (o.retryDelay !== undefined) checkMilliseconds('retryDelay', o.retryDelay);
  if (o.timeout !== undefined) checkMilliseconds('timeout', o.timeout);
  if (o.priority !== undefined) checkFiniteNumber('priority', o.priority);
  if (o.concurrency !== undefined) checkPositiveInteger('concurrency', o.concurrency, true);
  return o;
}

export function checkExecutor(executor: unknown): Executor {
  if (typeof executor !== 'object' || executor === null || typeof (executor as Executor).submit !== 'function') {
    throw new TypeError(expected('executor', 'an Executor (InlineExecutor, GreenPool, ThreadPool, ProcessPool, ClusterExecutor)', executor));
  }
  return executor as Executor;
}

/** In flight at once when the input streams or for take(): enough to keep every core busy. */
const STREAM_WINDOW = Math.max(4, 2 * availableParallelism());

type Partitions = Iterator<unknown[]> | AsyncIterator<unknown[]>;

/** One computation: its futures, its first failure, its signal. */
export class Run {
  readonly #executor: Executor;
  readonly #task: TaskRef;
  readonly #options: ComputeOptions;
  readonly #futures = new Set<Future<unknown, unknown>>();
  #error: unknown;
  #failed = false;
  readonly #stopped: Promise<never>;
  #reject!: (error: unknown) => void;
  #wake: (() => void) | undefined;

  constructor(executor: Executor, options: ComputeOptions) {
    this.#executor = executor;
    this.#options = options;
    const { retries, retryDelay, timeout, priority } = options;
    const taskOptions: TaskOptions = { ...(retries === undefined ? {} : { retries }), ...(retryDelay === undefined ? {} : { retryDelay }), ...(timeout === undefined ? {} : { timeout }), ...(priority === undefined ? {} : { priority }) };
    this.#task = Object.keys(taskOptions).length === 0 ? partitionTasks.runPartition : partitionTasks.runPartition.with(taskOptions);
    this.#stopped = new Promise<never>((_, reject) => { this.#reject = reject; });
    this.#stopped.catch(() => {});
  }

  /** Runs `body`, cancelling everything if the signal aborts or a partition fails for good. */
  async guard<R>(body: () => Promise<R>): Promise<R> {
    const { signal } = this.#options;
    const abort = () => this.fail(new CancelledError('the computation was cancelled by its signal', { cause: signal!.reason }));
    if (signal?.aborted) abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      return await this.race(body());
    } finally {
      signal?.removeEventListener('abort', abort);
      for (const future of this.#futures) future.cancel();
    }
  }

  fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = error;
    this.#reject(error);
    for (const future of [...this.#futures]) future.cancel();
    this.#wake?.();
  }

  race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.#stopped]);
  }

  /**
   * Runs one stage over `inputs`; `accept(partition, result)` is called in partition order and
   * answers false once no more results are wanted (take), which cancels what is left.
   */
  async stage(index: number, stages: Stage[], inputs: Partitions, accept: (partition: number, result: unknown) => boolean, ordered: boolean): Promise<void> {
    const stage = stages[index]!;
    const streamed = stage.partitions === undefined;
    const window = this.#options.concurrency ?? (streamed || ordered ? STREAM_WINDOW : Infinity);
    const results = new Map<number, unknown>();
    let submitted = 0;
    let delivered = 0;
    let running = 0;
    let done = 0;
    let exhausted = false;
    let enough = false;
    const settled = (partition: number, future: Future<unknown, unknown>) => {
      running--;
      if (future.state !== 'done') return this.fail(futureInternals.outcome(future));
      results.set(partition, futureInternals.outcome(future));
      try {
        this.#options.onProgress?.({ type: 'done', stage: index, stages: stages.length, partition, done: ++done, partitions: stage.partitions });
        while (!enough && results.has(delivered)) {
          const result = results.get(delivered);
          results.delete(delivered++);
          if (!accept(delivered - 1, result)) enough = true;
        }
      } catch (error) {
        this.fail(error); // the caller's onProgress threw: the computation fails with its error
      }
      this.#wake?.();
    };
    try {
      for (;;) {
        if (this.#failed) throw this.#error;
        while (!exhausted && !enough && (ordered ? submitted - delivered : running) < window) {
          const step = inputs.next();
          const next = step instanceof Promise ? await this.race(step) : step as IteratorResult<unknown[]>;
          if (next.done) exhausted = true;
          else this.#submit(index, stages, submitted++, next.value, settled), running++;
        }
        if (enough || (exhausted && running === 0)) break;
        await new Promise<void>((resolve) => { this.#wake = resolve; });
        this.#wake = undefined;
      }
    } finally {
      if (!exhausted) void Promise.resolve(inputs.return?.()).catch(() => {});
    }
    if (this.#failed) throw this.#error;
  }

  #submit(index: number, stages: Stage[], partition: number, input: unknown[], settled: (partition: number, future: Future<unknown, unknown>) => void): void {
    const stage = stages[index]!;
    let future: Future<unknown, unknown>;
    try {
      future = this.#executor.submit(this.#task as TaskRef<[unknown, unknown, unknown]>, stage.addresses, stage.spec, input) as Future<unknown, unknown>;
    } catch (error) {
      return this.fail(error);
    }
    this.#futures.add(future);
    const { onProgress } = this.#options;
    if (onProgress) {
      future.onProgress((value) => {
        try {
          onProgress({ type: 'progress', stage: index, stages: stages.length, partition, value });
        } catch (error) {
          this.fail(error);
        }
      });
    }
    future.onDone((f) => {
      this.#futures.delete(f);
      settled(partition, f);
    });
  }
}

/**
 * Runs every stage; `accept` gets the last stage's results in partition order. A shuffle's
 * results (one list of buckets per partition) are regrouped by bucket for the next stage.
 */
export async function runStages(executor: Executor, stages: Stage[], first: Partitions, accept: (partition: number, result: unknown) => boolean, ordered: boolean, options: ComputeOptions): Promise<void> {
  const run = new Run(executor, options);
  await run.guard(async () => {
    let inputs = first;
    for (let i = 0; i < stages.length; i++) {
      if (i === stages.length - 1) return run.stage(i, stages, inputs, accept, ordered);
      const buckets: unknown[][] = [];
      await run.stage(i, stages, inputs, (_, result) => (buckets.push(result as unknown[]), true), false);
      inputs = regroup(buckets, stages[i + 1]!.partitions!);
    }
  });
}

/** Partition r of the next stage: bucket r of every partition of this one. */
function* regroup(results: unknown[][], partitions: number): Generator<unknown[]> {
  for (let r = 0; r < partitions; r++) yield results.map((buckets) => buckets[r] ?? []);
}
