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
 * the AbortController is made only when somebody reads `signal`. A million green jobs may be
 * pending at once, so a job holds only what every job needs (13 slots, measured 104 bytes on
 * Node 20 and 24): the rest (timer, backend slot, observability state, the caller's signal
 * listener) lives in a JobExtras record made on first use.
 */
export class Job extends LazyAbortContext implements TaskContext, CancelListener {
  readonly future: Future<any, any>;
  readonly fn: (...args: any[]) => unknown;
  /** For 'call', the arguments; for 'chunk', one argument list per call; for 'items', one argument per call. */
  readonly args: readonly unknown[];
  readonly task: TaskRef | undefined;
  attempt = 0;
  /** The attempt that holds an executor slot right now, or 0. */
  runningAttempt = 0;
  readonly owner: JobOwner;
  /** kind, queued and finalized, packed (see the FLAG_ constants). */
  #flags: number;
  #extras: JobExtras | undefined = undefined;

  constructor(owner: JobOwner, fn: (...args: any[]) => unknown, args: readonly unknown[], kind: JobKind, task: TaskRef | undefined, id?: string) {
    super();
    this.owner = owner;
    this.task = task;
    const options = task?.options;
    const runAs = options === undefined ? undefined : (options as { [RUN_AS]?: RunAs })[RUN_AS];
    this.future = new Future(runAs?.id ?? id);
    if (runAs) this.attempt = runAs.attempt - 1;
    this.fn = fn;
    this.args = args;
    this.#flags = KIND_BITS[kind];
    futureInternals.setCancelListener(this.future, this);
    const signal = options?.signal;
    if (signal) this.#followCallerSignal(signal);
  }

  /** The task's options (its TaskRef's), or an empty record for a plain function. */
  get options(): TaskOptions {
    return this.task?.options ?? NO_OPTIONS;
  }

  get kind(): JobKind {
    return KINDS[this.#flags & KIND_MASK]!;
  }

  /** Waiting in its executor's queue. */
  get queued(): boolean {
    return (this.#flags & FLAG_QUEUED) !== 0;
  }

  set queued(value: boolean) {
    this.#flags = value ? this.#flags | FLAG_QUEUED : this.#flags & ~FLAG_QUEUED;
  }

  /** Counted out of its executor: settled, slot released, no retry pending. */
  get finalized(): boolean {
    return (this.#flags & FLAG_FINALIZED) !== 0;
  }

  set finalized(value: boolean) {
    this.#flags = value ? this.#flags | FLAG_FINALIZED : this.#flags & ~FLAG_FINALIZED;
  }

  /** The attempt's timeout, or the wait before a retry. */
  get timer(): ReturnType<typeof setTimeout> | undefined {
    return this.#extras?.timer;
  }

  set timer(value: ReturnType<typeof setTimeout> | undefined) {
    if (value !== undefined || this.#extras) this.#extrasRecord().timer = value;
  }

  /** The backend's handle on the running attempt (which worker holds it); the core never reads it. */
  get slot(): unknown {
    return this.#extras?.slot;
  }

  set slot(value: unknown) {
    if (value !== undefined || this.#extras) this.#extrasRecord().slot = value;
  }

  /** Observability's state for this job (observe/observer.ts); stays undefined while it is off. */
  get observed(): unknown {
    return this.#extras?.observed;
  }

  set observed(value: unknown) {
    if (value !== undefined || this.#extras) this.#extrasRecord().observed = value;
  }

  get id(): string {
    return this.future.id;
  }

  progress(value: unknown): void {
    futureInternals.reportProgress(this.future, value);
  }

  onCancel(): void {
    this.owner.jobCancelled(this);
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
    const extras = this.#extras;
    if (!extras) return;
    if (extras.timer) clearTimeout(extras.timer);
    extras.timer = undefined;
    if (extras.onCallerAbort) this.options.signal?.removeEventListener('abort', extras.onCallerAbort);
    extras.onCallerAbort = undefined;
  }

  #extrasRecord(): JobExtras {
    return (this.#extras ??= new JobExtras());
  }

  #followCallerSignal(signal: AbortSignal): void {
    if (signal.aborted) {
      queueMicrotask(() => this.future.cancel());
      return;
    }
    const onCallerAbort = (this.#extrasRecord().onCallerAbort = () => this.future.cancel());
    signal.addEventListener('abort', onCallerAbort, { once: true });
  }
}

/** A job's rarely set state. */
class JobExtras {
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  slot: unknown = undefined;
  observed: unknown = undefined;
  onCallerAbort: (() => void) | undefined = undefined;
}

const KINDS: readonly JobKind[] = ['call', 'chunk', 'items'];
const KIND_BITS: Record<JobKind, number> = { call: 0, chunk: 1, items: 2 };
const KIND_MASK = 3;
const FLAG_QUEUED = 4;
const FLAG_FINALIZED = 8;

/** The name a job's task goes by in errors, events and lists: its task name, else its function's. */
export function taskNameOf(job: Job): string {
  return job.task?.taskName ?? (job.fn.name || 'anonymous function');
}
