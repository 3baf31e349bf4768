import { Deque } from '../core/deque.js';
import { CancelledError, TimeoutError } from '../core/errors.js';
import type { Executor } from '../core/executor.js';
import { futureInternals, type Future } from '../core/future.js';
import { RUN_AS, type RunAs } from '../core/job.js';
import { isTaskRef, isTaskRunner, type TaskOptions, type TaskRef } from '../core/task.js';
import { InlineExecutor } from '../executors/inline.js';
import { GreenPool } from '../green/green-pool.js';
import { ProcessPool } from '../pools/process-pool.js';
import { ThreadPool } from '../pools/thread-pool.js';
import { CALL, ERR, OK, PROGRESS, YIELD, type PoolKind } from './protocol.js';
import type { TaskEntry, TaskTable } from './worker-tasks.js';
import { hooks } from '../observe/hooks.js';

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
  /** Submitted to the pool (counts against the gate). */
  readonly started: boolean;
  cancel(reason: Error): void;
}

/** A call received and not yet submitted to the pool. */
class Pending implements Running {
  readonly started = false;
  cancelled: Error | undefined;
  /** The trace it was received in, resumed when it starts (it may wait for a module or a slot). */
  trace: string | undefined;
  constructor(
    readonly op: number, readonly leaseId: number, readonly taskId: number, readonly id: string,
    readonly attempt: number, readonly timeout: number, readonly args: unknown[],
  ) {}

  cancel(reason: Error): void {
    this.cancelled ??= reason;
  }
}

/**
 * Pools that run tasks on this event loop (green, inline) take calls up to their concurrency,
 * in time slices: calls run back to back for at most this many ms, then the results so far
 * leave at once and the runner yields a turn of the event loop, in which the work the scheduler
 * sent meanwhile is read (else a batch of CPU-bound calls would run to its end before its first
 * result left, and the worker would then wait a round trip with nothing to do). Slices start
 * from setImmediate, never inside the socket's read callback, so every slice is followed by a
 * read.
 */
const SLICE_MS = 4;

export class Runner {
  readonly #pool: Executor;
  readonly #table: TaskTable;
  readonly #emit: Emit;
  /** How many calls the pool is given at once: its concurrency for in-process pools, else all. */
  readonly #gate: number;
  readonly #running = new Map<number, Running>();
  readonly #backlog = new Deque<Pending>();
  readonly #bound = new Map<TaskRef, Map<number, Bound>>();
  #active = 0;
  #sliceStart = 0;
  #resumeQueued = false;
  #draining = false;
  #waitingFor: Promise<unknown> | undefined;
  #idleWaiters: (() => void)[] = [];
  completed = 0;
  failed = 0;

  readonly #sliceEnded: () => void;

  /** `sliceEnded` sends the results emitted so far (in-process pools, at the end of each slice). */
  constructor(pool: Executor, table: TaskTable, emit: Emit, gate = Infinity, sliceEnded: () => void = () => {}) {
    this.#pool = pool;
    this.#table = table;
    this.#emit = emit;
    this.#gate = gate;
    this.#sliceEnded = sliceEnded;
  }

  get inFlight(): number {
    return this.#running.size;
  }

  run(op: number, leaseId: number, taskId: number, id: string, attempt: number, timeout: number, args: unknown[]): void {
    if (this.#running.has(leaseId)) return; // a duplicate delivery of a lease already here
    const pending = new Pending(op, leaseId, taskId, id, attempt, timeout, args);
    pending.trace = hooks.current?.carrier();
    this.#running.set(leaseId, pending);
    this.#backlog.push(pending);
    if (this.#gate === Infinity) this.#drain(); // other threads or processes run them
    else this.#yieldTurn(); // the next slice, after this read callback
  }

  cancel(leaseId: number, name: string, message: string): void {
    this.#running.get(leaseId)?.cancel(name === 'TimeoutError' ? new TimeoutError(message) : new CancelledError(message));
  }

  /** The connection is gone: calls not started are dropped, running ones aborted. */
  cancelAll(reason: string): void {
    for (const pending of this.#backlog.drain()) this.#running.delete(pending.leaseId);
    for (const running of [...this.#running.values()]) running.cancel(new CancelledError(reason));
    this.#wakeIfIdle();
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

  /** Starts backlog calls while the gate allows, in arrival order. */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      this.#drainNow();
    } finally {
      this.#draining = false;
    }
  }

  #drainNow(): void {
    while (this.#active < this.#gate) {
      const pending = this.#backlog.peek();
      if (!pending) return;
      if (this.#gate !== Infinity && (this.#resumeQueued || performance.now() - this.#sliceStart > SLICE_MS)) return this.#yieldTurn();
      const slot = this.#table.get(pending.taskId);
      if (slot instanceof Promise) {
        // Its module is loading: the queue waits for it, keeping call order.
        if (this.#waitingFor !== slot) {
          this.#waitingFor = slot;
          const resume = () => { this.#waitingFor = undefined; this.#drain(); };
          slot.then(resume, resume);
        }
        return;
      }
      this.#backlog.shift();
      if (this.#running.get(pending.leaseId) !== pending) continue;
      if (slot instanceof Error) this.#finish(pending.leaseId, ERR, slot);
      else if (pending.trace === undefined || hooks.current === undefined) this.#start(slot, pending);
      else hooks.current.withCarrier(pending.trace, () => this.#start(slot, pending));
    }
  }

  #yieldTurn(): void {
    if (this.#resumeQueued) return;
    this.#resumeQueued = true;
    this.#sliceEnded();
    setImmediate(this.#slice);
  }

  readonly #slice = (): void => {
    this.#resumeQueued = false;
    this.#sliceStart = performance.now();
    this.#drain();
  };

  #start(entry: TaskEntry, pending: Pending): void {
    const { op, leaseId, timeout } = pending;
    let { args } = pending;
    if (op === CALL && isTaskRef(entry) && isTaskRunner(entry)) {
      // The tasks it runs, as this worker finds them; one it does not offer fails the call.
      const local = this.#table.localize(args[0]);
      if (local instanceof Error) return this.#finish(leaseId, ERR, local);
      args = [local, ...args.slice(1)];
    }
    let task: TaskEntry = entry;
    if (isTaskRef(entry) && op === CALL) {
      const bound = this.#bind(entry, timeout);
      bound.runAs.id = pending.id;
      bound.runAs.attempt = pending.attempt;
      task = bound.ref;
    } else if (isTaskRef(entry)) {
      // starmap may create its job after an await: a chunk gets a record of its own.
      const runAs: RunAs = { id: pending.id, attempt: pending.attempt };
      task = entry.with({ [RUN_AS]: runAs } as TaskOptions);
    }
    this.#active++;
    try {
      if (op === CALL) this.#call(task, leaseId, args, isTaskRef(entry) ? entry.fn : entry);
      else this.#chunk(task, leaseId, args as unknown[][], timeout);
    } catch (error) {
      if (this.#running.get(leaseId) === pending) this.#active--; // it never reached the pool
      return this.#finish(leaseId, ERR, error);
    }
    // Cancelled before it started (often in the batch that brought it): it runs with its
    // signal aborted, as a running task that is cancelled does.
    if (pending.cancelled) this.#running.get(leaseId)?.cancel(pending.cancelled);
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
      started: true,
      // A call the local pool has not started yet (it was cancelled in the batch that brought
      // it) starts first, so that, as with any running task, its signal sees the abort.
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
    this.#running.set(leaseId, { started: true, cancel: (reason) => controller.abort(reason) });
    this.#pool.starmap(task, argLists, { chunksize: Math.max(1, argLists.length), signal: controller.signal, ...(timeout > 0 ? { timeout } : {}) }).then(
      (values) => this.#finish(leaseId, OK, values, argLists.length),
      (error) => this.#finish(leaseId, ERR, error),
    );
  }

  #settled(leaseId: number, future: Future<unknown, unknown>): void {
    this.#finish(leaseId, future.state === 'done' ? OK : ERR, futureInternals.outcome(future));
  }

  /** `calls`: how many tasks the lease held (a chunk's count, for the completed figure). */
  #finish(leaseId: number, op: number, value: unknown, calls = 1): void {
    const running = this.#running.get(leaseId);
    if (!running) return;
    this.#running.delete(leaseId);
    if (running.started) this.#active--;
    if (op === OK) this.completed += calls;
    else this.failed++;
    this.#emit(op, leaseId, value);
    this.#wakeIfIdle();
    if (this.#backlog.length > 0) this.#drain();
  }

  #wakeIfIdle(): void {
    if (this.#running.size === 0 && this.#idleWaiters.length > 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }
}
