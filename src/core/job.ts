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

// Module functions rather than private methods, which cost every instance a slot (the class
// brand). Assigned in Job's static block, declared first so that the block does not hit the TDZ.
let extrasOf: (job: Job) => JobExtras;

/**
 * One submitted task: its future, what to run, its options and the state of its current
 * attempt. It is also the task's TaskContext, so running a task allocates no extra object;
 * the AbortController is made only when somebody reads `signal`. A million green jobs may be
 * pending at once, so a job holds only what every job needs, in 7 slots (80 bytes on Node 20
 * and 24, against 168 before): the attempt number shares a small integer with the kind and
 * flags (one of them says whether that attempt holds a slot), the function and its TaskRef share a slot, there are no private methods (each class
 * with some costs every instance a slot), and the rest (timer, backend slot, observability
 * state, the caller's signal listener) lives in a JobExtras record made on first use.
 */
export class Job extends LazyAbortContext implements TaskContext, CancelListener {
  readonly future: Future<any, any>;
  /** For 'call', the arguments; for 'chunk', one argument list per call; for 'items', one argument per call. */
  readonly args: readonly unknown[];
  /** The executor, or for a job run on the executor's own thread the pump round that started it (see ExecutorBase.runHere). */
  owner: JobOwner;
  /** The TaskRef when FLAG_REF is set, else the function. */
  #callee: TaskRef | ((...args: any[]) => unknown);
  /** The attempt number (above ATTEMPT_SHIFT), kind and flags (see the FLAG_ constants); FLAG_RUNNING: it holds a slot. */
  #bits: number;
  #extras: JobExtras | undefined = undefined;

  constructor(owner: JobOwner, fn: (...args: any[]) => unknown, args: readonly unknown[], kind: JobKind, task: TaskRef | undefined, id?: string) {
    super();
    this.owner = owner;
    this.#callee = task ?? fn;
    this.#bits = KIND_BITS[kind] | (task ? FLAG_REF : 0);
    const options = task?.options;
    const runAs = options === undefined ? undefined : (options as { [RUN_AS]?: RunAs })[RUN_AS];
    this.future = new Future(runAs?.id ?? id);
    if (runAs) this.attempt = runAs.attempt - 1;
    this.args = args;
    futureInternals.setCancelListener(this.future, this);
    const signal = options?.signal;
    if (signal) followCallerSignal(this, signal);
  }

  /** The function to run (a TaskRef's own function, not the ref). */
  get fn(): (...args: any[]) => unknown {
    const callee = this.#callee;
    return this.#bits & FLAG_REF ? (callee as TaskRef).fn : callee as (...args: any[]) => unknown;
  }

  /** The TaskRef submitted, or undefined for a plain function. */
  get task(): TaskRef | undefined {
    return this.#bits & FLAG_REF ? this.#callee as TaskRef : undefined;
  }

  /** 1 on the first run, 2 on the first retry, and so on (0 before the first). */
  get attempt(): number {
    return this.#bits >>> ATTEMPT_SHIFT;
  }

  set attempt(value: number) {
    this.#bits = (this.#bits & LOW_BITS) | (value << ATTEMPT_SHIFT);
  }

  /** The attempt that holds an executor slot right now, or 0. */
  get runningAttempt(): number {
    const bits = this.#bits;
    return bits & FLAG_RUNNING ? bits >>> ATTEMPT_SHIFT : 0;
  }

  /** 0 gives the slot up; any other value becomes the attempt number, holding the slot. */
  set runningAttempt(value: number) {
    if (value === 0) this.#bits &= ~FLAG_RUNNING;
    else this.#bits = (this.#bits & LOW_BITS) | FLAG_RUNNING | (value << ATTEMPT_SHIFT);
  }

  /** The task's options (its TaskRef's), or an empty record for a plain function. */
  get options(): TaskOptions {
    return this.task?.options ?? NO_OPTIONS;
  }

  get kind(): JobKind {
    return KINDS[this.#bits & KIND_MASK]!;
  }

  /** Waiting in its executor's queue. */
  get queued(): boolean {
    return (this.#bits & FLAG_QUEUED) !== 0;
  }

  set queued(value: boolean) {
    this.#bits = value ? this.#bits | FLAG_QUEUED : this.#bits & ~FLAG_QUEUED;
  }

  /** Counted out of its executor: settled, slot released, no retry pending. */
  get finalized(): boolean {
    return (this.#bits & FLAG_FINALIZED) !== 0;
  }

  set finalized(value: boolean) {
    this.#bits = value ? this.#bits | FLAG_FINALIZED : this.#bits & ~FLAG_FINALIZED;
  }

  /** The attempt's timeout, or the wait before a retry. */
  get timer(): ReturnType<typeof setTimeout> | undefined {
    return this.#extras?.timer;
  }

  set timer(value: ReturnType<typeof setTimeout> | undefined) {
    if (value !== undefined || this.#extras) extrasOf(this).timer = value;
  }

  /** The backend's handle on the running attempt (which worker holds it); the core never reads it. */
  get slot(): unknown {
    return this.#extras?.slot;
  }

  set slot(value: unknown) {
    if (value !== undefined || this.#extras) extrasOf(this).slot = value;
  }

  /** Observability's state for this job (observe/observer.ts); stays undefined while it is off. */
  get observed(): unknown {
    return this.#extras?.observed;
  }

  set observed(value: unknown) {
    if (value !== undefined || this.#extras) extrasOf(this).observed = value;
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
    const attempt = this.attempt + 1;
    this.runningAttempt = attempt;
    this.resetAbort();
    return attempt;
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

  static {
    extrasOf = (job) => (job.#extras ??= new JobExtras());
  }
}

function followCallerSignal(job: Job, signal: AbortSignal): void {
  if (signal.aborted) {
    queueMicrotask(() => job.future.cancel());
    return;
  }
  const onCallerAbort = (extrasOf(job).onCallerAbort = () => job.future.cancel());
  signal.addEventListener('abort', onCallerAbort, { once: true });
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
const FLAG_REF = 16;
const FLAG_RUNNING = 32;
const LOW_BITS = 63;
const ATTEMPT_SHIFT = 6;

/** The name a job's task goes by in errors, events and lists: its task name, else its function's. */
export function taskNameOf(job: Job): string {
  return job.task?.taskName ?? (job.fn.name || 'anonymous function');
}
