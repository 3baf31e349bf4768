import { CancelledError, TimeoutError } from '../core/errors.js';
import type { Executor } from '../core/executor.js';
import { futureInternals, type Future } from '../core/future.js';
import { RUN_AS, type RunAs } from '../core/job.js';
import { isTaskRef, type TaskOptions, type TaskRef } from '../core/task.js';
import { InlineExecutor } from '../executors/inline.js';
import { GreenPool } from '../green/green-pool.js';
import { ProcessPool } from '../pools/process-pool.js';
import { ThreadPool } from '../pools/thread-pool.js';
import { CALL, ERR, OK, PROGRESS, YIELD, type PoolKind } from './protocol.js';
import type { TaskEntry, TaskTable } from './worker-tasks.js';

/**
 * The worker side of a lease: runs the scheduler's calls on this worker's local pool and reports
 * through `emit(op, leaseId, value)`. Each call is submitted with the original future's id and
 * attempt (RUN_AS), so `taskContext()` on the worker matches the caller's future, and with the
 * attempt's timeout, so the pool times it out here and the task's signal sees a TimeoutError.
 */
export type Emit = (op: number, leaseId: number, value: unknown) => void;

export function createPool(kind: PoolKind, concurrency: number): Executor {
  switch (kind) {
    case 'inline': return new InlineExecutor();
    case 'green': return new GreenPool({ size: concurrency });
    case 'threads': return new ThreadPool({ workers: concurrency });
    case 'processes': return new ProcessPool({ workers: concurrency });
  }
}

const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor;
const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor;

interface Bound {
  ref: TaskRef;
  runAs: RunAs;
}

interface Running {
  cancel(reason: Error): void;
}

export class Runner {
  readonly #pool: Executor;
  readonly #table: TaskTable;
  readonly #emit: Emit;
  readonly #running = new Map<number, Running>();
  readonly #bound = new Map<TaskRef, Map<number, Bound>>();
  #idleWaiters: (() => void)[] = [];
  completed = 0;
  failed = 0;

  constructor(pool: Executor, table: TaskTable, emit: Emit) {
    this.#pool = pool;
    this.#table = table;
    this.#emit = emit;
  }

  get inFlight(): number {
    return this.#running.size;
  }

  run(op: number, leaseId: number, taskId: number, id: string, attempt: number, timeout: number, args: unknown[]): void {
    if (this.#running.has(leaseId)) return; // a duplicate delivery of a lease already running here
    const slot = this.#table.get(taskId);
    if (slot instanceof Error) return this.#finish(leaseId, ERR, slot);
    if (!(slot instanceof Promise)) return this.#start(slot, op, leaseId, id, attempt, timeout, args);
    // Its module is loading: hold the lease (cancellable) until it has.
    let cancelled: Error | undefined;
    this.#running.set(leaseId, { cancel: (reason) => { cancelled = reason; } });
    slot.then(
      (entry) => {
        if (!this.#running.has(leaseId)) return;
        this.#start(entry, op, leaseId, id, attempt, timeout, args);
        if (cancelled) this.#running.get(leaseId)?.cancel(cancelled);
      },
      (error: Error) => this.#finish(leaseId, ERR, error),
    );
  }

  cancel(leaseId: number, name: string, message: string): void {
    this.#running.get(leaseId)?.cancel(name === 'TimeoutError' ? new TimeoutError(message) : new CancelledError(message));
  }

  /** Aborts everything: its results could no longer be delivered. */
  cancelAll(reason: string): void {
    for (const running of [...this.#running.values()]) running.cancel(new CancelledError(reason));
  }

  /** Resolves once nothing runs. */
  idle(): Promise<void> {
    if (this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  close(): Promise<void> {
    this.cancelAll('the worker is shutting down');
    return this.#pool.shutdown({ cancelPending: true });
  }

  #start(entry: TaskEntry, op: number, leaseId: number, id: string, attempt: number, timeout: number, args: unknown[]): void {
    let task: TaskEntry = entry;
    if (isTaskRef(entry)) {
      const bound = this.#bind(entry, timeout);
      bound.runAs.id = id;
      bound.runAs.attempt = attempt;
      task = bound.ref;
    }
    try {
      if (op === CALL) this.#call(task, leaseId, args, isTaskRef(entry) ? entry.fn : entry);
      else this.#chunk(task, leaseId, args as unknown[][], timeout);
    } catch (error) {
      this.#finish(leaseId, ERR, error);
    }
  }

  /**
   * The task with a RUN_AS record and the timeout, made once per task and timeout: `with()`
   * per call would cost more than the call. The record is read when the job is created, so
   * it is refilled before each submit.
   */
  #bind(ref: TaskRef, timeout: number): Bound {
    let byTimeout = this.#bound.get(ref);
    if (!byTimeout) this.#bound.set(ref, (byTimeout = new Map()));
    let bound = byTimeout.get(timeout);
    if (!bound) {
      const runAs: RunAs = { id: '', attempt: 1 };
      const options: TaskOptions & { [RUN_AS]?: RunAs } = { [RUN_AS]: runAs };
      if (timeout > 0) options.timeout = timeout;
      bound = { ref: ref.with(options), runAs };
      byTimeout.set(timeout, bound);
    }
    return bound;
  }

  #call(task: TaskEntry, leaseId: number, args: unknown[], fn: (...args: any[]) => unknown): void {
    const future = this.#pool.submit(task, ...args);
    this.#running.set(leaseId, {
      // A call cancelled before the local pool started it (often: in the same batch that
      // brought it) starts first, so that, as with any running task, its signal sees the abort.
      cancel: () => (future.state === 'pending' ? setImmediate(() => future.cancel()) : future.cancel()),
    });
    future.onProgress((value) => this.#emit(PROGRESS, leaseId, value));
    if (fn instanceof GeneratorFunction || fn instanceof AsyncGeneratorFunction) {
      // Every yielded value must leave before the result does: stream, then settle.
      void this.#stream(future, leaseId);
    } else {
      future.onDone((f) => this.#settled(leaseId, f));
    }
  }

  async #stream(future: Future<unknown, unknown>, leaseId: number): Promise<void> {
    try {
      for await (const value of future) this.#emit(YIELD, leaseId, value);
    } catch {
      // The future failed or was cancelled: its outcome is reported below.
    }
    this.#settled(leaseId, future);
  }

  #chunk(task: TaskEntry, leaseId: number, argLists: unknown[][], timeout: number): void {
    const controller = new AbortController();
    this.#running.set(leaseId, { cancel: (reason) => controller.abort(reason) });
    this.#pool.starmap(task, argLists, { chunksize: Math.max(1, argLists.length), signal: controller.signal, ...(timeout > 0 ? { timeout } : {}) }).then(
      (values) => this.#finish(leaseId, OK, values),
      (error) => this.#finish(leaseId, ERR, error),
    );
  }

  #settled(leaseId: number, future: Future<unknown, unknown>): void {
    this.#finish(leaseId, future.state === 'done' ? OK : ERR, futureInternals.outcome(future));
  }

  #finish(leaseId: number, op: number, value: unknown): void {
    this.#running.delete(leaseId);
    if (op === OK) this.completed++;
    else this.failed++;
    this.#emit(op, leaseId, value);
    if (this.#running.size === 0 && this.#idleWaiters.length > 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }
}
