import type { TaskContext } from './context.js';
import { Future, futureInternals, type CancelListener } from './future.js';
import type { TaskOptions, TaskRef } from './task.js';
import { LazyAbortContext } from './lazy-abort.js';

/**
 * How a job's work is shaped: one call; a chunk of calls from starmap (one argument list per
 * call); or a chunk of map's single-argument calls (one item per call, sent as they are).
 */
export type JobKind = 'call' | 'chunk' | 'items';

/** The executor side of one job, as the executor base sees it. */
export interface JobOwner {
  jobCancelled(job: Job): void;
}

const NO_OPTIONS: TaskOptions = Object.freeze({});

/**
 * A task option, keyed by a symbol so no user sets it by accident, for executors that run a
 * task on behalf of another one (a cluster worker on its local pool): the job takes the
 * original future's id and attempt number, so `taskContext()` reports those, not local ones.
 * It is read once, when the job is created, so a caller may reuse one record between submits.
 */
export const RUN_AS: unique symbol = Symbol.for('weft.runAs');
export interface RunAs {
  id: string;
  attempt: number;
}

/**
 * One submitted task: its future, what to run, its options and the state of its current
 * attempt. It is also the task's TaskContext, so running a task allocates no extra object;
 * the AbortController is made only when somebody reads `signal`.
 */
export class Job extends LazyAbortContext implements TaskContext, CancelListener {
  readonly future: Future<any, any>;
  readonly fn: (...args: any[]) => unknown;
  /** For 'call', the arguments; for 'chunk', one argument list per call; for 'items', one argument per call. */
  readonly args: readonly unknown[];
  readonly kind: JobKind;
  readonly task: TaskRef | undefined;
  readonly options: TaskOptions;
  attempt = 0;
  /** The attempt that holds an executor slot right now, or 0. */
  runningAttempt = 0;
  queued = false;
  /** Counted out of its executor: settled, slot released, no retry pending. */
  finalized = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The backend's handle on the running attempt (which worker holds it); the core never reads it. */
  slot: unknown = undefined;
  /** Observability's state for this job (observe/observer.ts); stays undefined while it is off. */
  observed: unknown = undefined;
  #owner: JobOwner;
  #onCallerAbort: (() => void) | undefined;

  constructor(owner: JobOwner, fn: (...args: any[]) => unknown, args: readonly unknown[], kind: JobKind, task: TaskRef | undefined, options: TaskOptions | undefined, id?: string) {
    super();
    this.#owner = owner;
    this.options = options ?? NO_OPTIONS;
    const runAs = (this.options as { [RUN_AS]?: RunAs })[RUN_AS];
    this.future = new Future(runAs?.id ?? id);
    if (runAs) this.attempt = runAs.attempt - 1;
    this.fn = fn;
    this.args = args;
    this.kind = kind;
    this.task = task;
    futureInternals.setCancelListener(this.future, this);
    const signal = this.options.signal;
    if (signal) this.#followCallerSignal(signal);
  }

  get id(): string {
    return this.future.id;
  }

  progress(value: unknown): void {
    futureInternals.reportProgress(this.future, value);
  }

  onCancel(): void {
    this.#owner.jobCancelled(this);
  }

  /** Starts a fresh attempt: a new signal that has not aborted. */
  beginAttempt(): number {
    this.attempt++;
    this.runningAttempt = this.attempt;
    this.resetAbort();
    return this.attempt;
  }

  /** Drops timers and listeners once the future has settled. */
  release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.#onCallerAbort) this.options.signal?.removeEventListener('abort', this.#onCallerAbort);
    this.#onCallerAbort = undefined;
  }

  #followCallerSignal(signal: AbortSignal): void {
    if (signal.aborted) {
      queueMicrotask(() => this.future.cancel());
      return;
    }
    this.#onCallerAbort = () => this.future.cancel();
    signal.addEventListener('abort', this.#onCallerAbort, { once: true });
  }
}

/** The name a job's task goes by in errors, events and lists: its task name, else its function's. */
export function taskNameOf(job: Job): string {
  return job.task?.taskName ?? (job.fn.name || 'anonymous function');
}
