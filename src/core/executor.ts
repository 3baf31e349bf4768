import { asyncTaskContext, ContextScope, enterContext } from './context.js';
import { CancelledError, InvalidStateError, TimeoutError } from './errors.js';
import type { Future } from './future.js';
import { futureInternals } from './future.js';
import { invokeChunk, invokeTask, isPromiseLike } from './invoke.js';
import { Job, taskNameOf, type JobKind, type JobOwner } from './job.js';
import { PriorityQueue } from './job-queue.js';
import { checkMapOptions, collectResults, isChunked, streamResults, toSource, type MapOptions, type MapPlan, type SubmitBatch } from './map.js';
import { checkTask, isTaskRef, type AnyTask, type TaskArgs, type TaskRef, type TaskResult, type TaskYield } from './task.js';
import { expected } from './validate.js';
import { hooks } from '../observe/hooks.js';

/**
 * The executor contract, implemented once. A backend only says how many jobs it can run at
 * once (`capacity`) and how to start one (`dispatch`); queueing, priorities, timeouts,
 * retries, cancellation, map/imap and shutdown live here, so every backend behaves alike.
 *
 *   submit ─▶ Job ─▶ queue (priority, FIFO) ─▶ pump ─▶ dispatch(job) ─▶ backend runs it
 *                                                                          │
 *   future ◀── settle ◀── retry? ◀── resolveAttempt / rejectAttempt ◀──────┘
 *
 * Invariant: at most one attempt of a job holds a backend slot (`job.runningAttempt`), so a
 * retry never starts while an abandoned attempt is still running somewhere.
 */
export interface Executor {
  submit<T extends AnyTask>(task: T, ...args: TaskArgs<T>): Future<TaskResult<T>, TaskYield<T>>;
  map<T extends AnyTask>(task: T, items: Iterable<TaskArgs<T>[0]> | AsyncIterable<TaskArgs<T>[0]>, options?: MapOptions): Promise<TaskResult<T>[]>;
  imap<T extends AnyTask>(task: T, items: Iterable<TaskArgs<T>[0]> | AsyncIterable<TaskArgs<T>[0]>, options?: MapOptions): AsyncIterable<TaskResult<T>>;
  imapUnordered<T extends AnyTask>(task: T, items: Iterable<TaskArgs<T>[0]> | AsyncIterable<TaskArgs<T>[0]>, options?: MapOptions): AsyncIterable<TaskResult<T>>;
  starmap<T extends AnyTask>(task: T, argLists: Iterable<TaskArgs<T>> | AsyncIterable<TaskArgs<T>>, options?: MapOptions): Promise<TaskResult<T>[]>;
  shutdown(options?: ShutdownOptions): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface ShutdownOptions {
  /** Resolve only once every submitted task has finished and the backend has closed. @default true */
  wait?: boolean;
  /**
   * Cancel the tasks that have not started yet. On a broker-backed cluster: the tasks handed to
   * the broker that no worker says it runs (revoked: dropped when a worker takes them).
   * @default false
   */
  cancelPending?: boolean;
}

export interface ExecutorStats {
  queued: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
}

/** First retry waits `retryDelay`; each later one doubles, times a jitter in [0.5, 1). */
const DEFAULT_RETRY_DELAY_MS = 100;
const MAX_IMAP_WINDOW = 4096;
const NO_ARGS: readonly unknown[] = Object.freeze([]);

// Declared before ExecutorBase, whose static block assigns it (it may reach protected members).
let settleHere: (job: Job, ok: boolean, outcome: unknown) => void;

export abstract class ExecutorBase implements Executor, JobOwner {
  #queue = new PriorityQueue<Job>();
  #active = 0;
  /** Jobs not yet finalized: future unsettled, holding a slot, or waiting to retry. */
  #live = 0;
  #pumpScheduled = false;
  #pumping = false;
  #state: 'open' | 'shutting-down' | 'closed' = 'open';
  #cancelPending = false;
  #drainWaiters: (() => void)[] = [];
  #closing: Promise<void> | undefined;
  #counts = { completed: 0, failed: 0, cancelled: 0 };
  /** The scope of the pump round in progress, made when a task of it enters its context (see runHere). */
  #round: PumpRound | undefined;

  /** A name for messages: "GreenPool", "ThreadPool", ... */
  protected abstract readonly kind: string;
  /** How many jobs the backend runs at once. */
  protected abstract get capacity(): number;
  /** Starts `job.runningAttempt`; report with resolveAttempt/rejectAttempt/pushValue. */
  protected abstract dispatch(job: Job): void;

  /** A running job was cancelled or timed out; its signal has aborted with `reason`. */
  protected abandon(_job: Job, _reason: unknown): void {}
  /** Refuses tasks this backend cannot run; throw a TypeError saying why. */
  protected accept(_task: AnyTask): void {}
  /** Releases the backend once every job has finished. */
  protected async close(): Promise<void> {}
  /**
   * How a map over an array is cut when no chunksize is given: for `slots` workers, the smallest
   * chunk 1 / `smallestShare` of one worker's share. Undefined (inline, green): one item per call.
   */
  protected chunking(): MapChunking | undefined {
    return undefined;
  }

  /**
   * True for a backend whose workers run each attempt's timeout and the retries themselves (the
   * broker-backed cluster, where the submitter may be gone before a retry is due): no local
   * timer is set, and a failed attempt is final here.
   */
  protected get remoteAttempts(): boolean {
    return false;
  }

  /** The id of the next job's future; undefined: a process-unique number. */
  protected nextJobId(): string | undefined {
    return undefined;
  }

  /** The backend's capacity grew (a cluster worker joined): start queued jobs now. */
  protected capacityChanged(): void {
    this.#pump();
  }

  /** Jobs waiting for a slot; backends that prefetch size their capacity by it. */
  protected get queuedCount(): number {
    return this.#queue.size;
  }

  /** The kind of the job that starts next, if one waits (backends may prefetch chunks only). */
  protected get nextQueuedKind(): JobKind | undefined {
    return this.#queue.peek()?.kind;
  }

  get stats(): ExecutorStats {
    return { queued: this.#queue.size, running: this.#active, ...this.#counts };
  }

  submit<T extends AnyTask>(task: T, ...args: TaskArgs<T>): Future<TaskResult<T>, TaskYield<T>> {
    return this.#submitJob(task, args, 'call');
  }

  map<T extends AnyTask>(task: T, items: Iterable<TaskArgs<T>[0]> | AsyncIterable<TaskArgs<T>[0]>, options?: MapOptions): Promise<TaskResult<T>[]> {
    return this.#collect(task, items, options, false);
  }

  imap<T extends AnyTask>(task: T, items: Iterable<TaskArgs<T>[0]> | AsyncIterable<TaskArgs<T>[0]>, options?: MapOptions): AsyncIterable<TaskResult<T>> {
    return this.#stream(task, items, options, false, true, this.#imapWindow());
  }

  imapUnordered<T extends AnyTask>(task: T, items: Iterable<TaskArgs<T>[0]> | AsyncIterable<TaskArgs<T>[0]>, options?: MapOptions): AsyncIterable<TaskResult<T>> {
    return this.#stream(task, items, options, false, false, this.#imapWindow());
  }

  starmap<T extends AnyTask>(task: T, argLists: Iterable<TaskArgs<T>> | AsyncIterable<TaskArgs<T>>, options?: MapOptions): Promise<TaskResult<T>[]> {
    return this.#collect(task, argLists, options, true);
  }

  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelPending = false } = options;
    if (cancelPending) {
      this.#cancelPending = true;
      for (const job of this.#queue.drain()) job.future.cancel();
      this.cancelHandedOff();
    }
    if (this.#state === 'open') this.#state = 'shutting-down';
    this.#closing ??= this.#drained().then(() => this.close()).then(() => {
      this.#state = 'closed';
    });
    if (!wait) {
      this.#closing.catch(() => {});
      return Promise.resolve();
    }
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown({ wait: true });
  }

  // ---- backend side -------------------------------------------------------------------------

  /**
   * shutdown({ cancelPending }): a backend whose dispatched jobs may still wait somewhere it
   * cannot see (a broker queue) cancels them here; the default has none.
   */
  protected cancelHandedOff(): void {}

  /**
   * Runs a job's function in this thread and reports its outcome. With `asyncContext`, the job
   * is entered as the async context inside a scope made once per pump round, which returns to
   * the pump's own context on return: one context frame per task, and the outcome is reported
   * (future callbacks, the `then` that waits for the task) from the pump's context, not the task's:
   * such a job's owner becomes its round, which keeps that context and forwards to the executor.
   */
  protected runHere(job: Job, asyncContext = true): void {
    const attempt = job.runningAttempt;
    let out: unknown;
    try {
      if (asyncContext) {
        const round = (this.#round ??= new PumpRound(this));
        job.owner = round;
        out = round.tasks.runInAsyncScope(invokeInContext, undefined, job, this.#yieldHere);
      } else out = invokeHere(job, this.#yieldHere, false);
    } catch (error) {
      this.rejectAttempt(job, attempt, error);
      return;
    }
    if (out === WATCHED) return;
    // No context to find the job by (asyncContext off, or a thenable that is not a native
    // promise): two bound functions, 48 bytes each with no shared closure context.
    if (isPromiseLike(out)) out.then(resolvedHere.bind(job), rejectedHere.bind(job));
    else this.resolveAttempt(job, attempt, out);
  }

  /** Values a generator running here yields belong to the attempt holding the job's slot. */
  #yieldHere = (job: Job, value: unknown): void => this.pushValue(job, job.runningAttempt, value);

  protected resolveAttempt(job: Job, attempt: number, value: unknown): void {
    if (job.runningAttempt !== attempt) return;
    this.#leaveSlot(job);
    hooks.current?.attemptEnded(this.kind, job, 'ok');
    if (job.future.state === 'running') futureInternals.setResult(job.future, value);
    this.#finalize(job);
    this.#pump();
  }

  protected rejectAttempt(job: Job, attempt: number, error: unknown): void {
    if (job.runningAttempt !== attempt) return;
    this.#leaveSlot(job);
    const h = hooks.current;
    h?.attemptEnded(this.kind, job, 'error', error);
    if (job.future.state === 'running') {
      const retries = job.options.retries ?? 0;
      if (job.attempt <= retries && !(error instanceof CancelledError) && !this.#cancelPending && !this.remoteAttempts) {
        h?.taskRetrying(this.kind, job, error);
        this.#scheduleRetry(job);
      } else futureInternals.setException(job.future, error);
    }
    this.#finalize(job);
    this.#pump();
  }

  /**
   * The running attempt never started (its worker died or was stopped before reaching it): give
   * the slot back and queue the job again at the front, as if it had not been dispatched.
   */
  protected requeueAttempt(job: Job, attempt: number): void {
    if (job.runningAttempt !== attempt) return;
    this.#leaveSlot(job);
    hooks.current?.attemptEnded(this.kind, job, 'requeued');
    job.attempt--;
    if (job.future.done() || this.#cancelPending) {
      if (!job.future.done()) job.future.cancel();
      this.#finalize(job);
    } else {
      job.queued = true;
      this.#queue.pushFront(job, job.options.priority ?? 0);
    }
    this.#pump();
  }

  protected pushValue(job: Job, attempt: number, value: unknown): void {
    if (job.runningAttempt === attempt && job.future.state === 'running') futureInternals.pushValue(job.future, value);
  }

  /** Called by a job when its future is cancelled. */
  jobCancelled(job: Job): void {
    hooks.current?.taskCancelled(this.kind, job);
    if (job.runningAttempt !== 0) {
      const reason = new CancelledError(`future ${job.id} was cancelled while running`);
      job.abort(reason);
      this.abandon(job, reason);
    } else if (job.timer !== undefined) {
      clearTimeout(job.timer); // it was waiting to retry
      job.timer = undefined;
    }
    this.#finalize(job);
  }

  // ---- internals ----------------------------------------------------------------------------

  #submitJob(task: AnyTask, args: unknown[], kind: JobKind): Future<any, any> {
    checkTask(task);
    if (this.#state !== 'open') {
      throw new InvalidStateError(`cannot submit a task to a ${this.kind} that has been shut down`);
    }
    if (!Array.isArray(args)) throw new TypeError(expected('args', 'an array of arguments', args));
    this.accept(task);
    const ref: TaskRef | undefined = isTaskRef(task) ? task : undefined;
    const job = new Job(this, ref ? ref.fn : task as (...args: any[]) => unknown, args.length === 0 ? NO_ARGS : args, kind, ref, this.nextJobId());
    this.#live++;
    hooks.current?.taskSubmitted(this, this.kind, job);
    this.#enqueue(job);
    return job.future;
  }

  #stream(task: AnyTask, items: unknown, options: MapOptions | undefined, spread: boolean, ordered: boolean, defaultWindow: number): AsyncGenerator<any> {
    const { source, submit, plan } = this.#planMap(task, items, options, spread, defaultWindow, false);
    return streamResults(source, submit, plan, ordered);
  }

  #collect(task: AnyTask, items: unknown, options: MapOptions | undefined, spread: boolean): Promise<any[]> {
    const { source, submit, plan } = this.#planMap(task, items, options, spread, Infinity, true);
    return collectResults(source, submit, plan);
  }

  /**
   * How a map runs. A chunk is one attempt, so a task's `timeout` and `retries` would apply to
   * a whole chunk: with either, each item is its own call unless a chunksize is given. Guided
   * chunks (large first) only when all results are collected at the end (map, starmap): imap
   * streams, and a large first chunk would hold its first result back.
   */
  #planMap(task: AnyTask, items: unknown, options: MapOptions | undefined, spread: boolean, defaultWindow: number, collected: boolean) {
    checkTask(task);
    const o = checkMapOptions(options);
    const itemCount = Array.isArray(items) ? items.length : undefined;
    const perItem = isTaskRef(task) && (task.options.timeout !== undefined || (task.options.retries ?? 0) > 0);
    const cut = o.chunksize === undefined && !perItem && itemCount !== undefined ? this.chunking() : undefined;
    const plan: MapPlan = {
      chunksize: o.chunksize ?? (cut ? smallestChunk(itemCount!, cut) : 1),
      guided: cut && collected && itemCount! > cut.slots ? { divisor: cut.slots * GUIDED_SHARE, maxChunk: MAX_CHUNK } : undefined,
      window: o.concurrency ?? defaultWindow,
      timeout: o.timeout,
      signal: o.signal,
    };
    const source = toSource(items);
    // map's items go as they are (no array per item): a chunk of them is an 'items' job.
    const submit: SubmitBatch = isChunked(plan)
      ? (batch) => this.#submitJob(task, batch, spread ? 'chunk' : 'items')
      : spread ? (batch) => this.#submitJob(task, batch[0] as unknown[], 'call') : (batch) => this.#submitJob(task, [batch[0]], 'call');
    return { source, submit, plan };
  }

  #imapWindow(): number {
    return Math.min(Math.max(2 * this.capacity, 4), MAX_IMAP_WINDOW);
  }

  #enqueue(job: Job): void {
    job.queued = true;
    this.#queue.push(job, job.options.priority ?? 0);
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      queueMicrotask(() => {
        this.#pumpScheduled = false;
        this.#pump();
      });
    }
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#active < this.capacity) {
        const job = this.#queue.shift();
        if (!job) break;
        job.queued = false;
        if (job.future.done()) continue; // cancelled while queued: already finalized
        this.#start(job);
      }
    } finally {
      this.#pumping = false;
      this.#round = undefined;
    }
  }

  #start(job: Job): void {
    if (job.future.state === 'pending') futureInternals.setRunning(job.future);
    const attempt = job.beginAttempt();
    this.#active++;
    hooks.current?.attemptStarted(this.kind, job);
    const timeout = job.options.timeout;
    if (timeout !== undefined && !this.remoteAttempts) job.timer = setTimeout(() => this.#timedOut(job, attempt, timeout), timeout);
    try {
      this.dispatch(job);
    } catch (error) {
      this.rejectAttempt(job, attempt, error);
    }
  }

  #timedOut(job: Job, attempt: number, timeout: number): void {
    job.timer = undefined;
    if (job.runningAttempt !== attempt) return;
    const name = taskNameOf(job);
    const error = new TimeoutError(`task ${name} (future ${job.id}, attempt ${attempt}) ran past its timeout of ${timeout} ms`);
    job.abort(error);
    // With no retry left the caller learns at once; the attempt keeps its slot until it ends.
    if (job.attempt > (job.options.retries ?? 0) && job.future.state === 'running') {
      futureInternals.setException(job.future, error);
    }
    this.abandon(job, error);
  }

  #leaveSlot(job: Job): void {
    job.runningAttempt = 0;
    this.#active--;
    if (job.timer) {
      clearTimeout(job.timer);
      job.timer = undefined;
    }
  }

  #scheduleRetry(job: Job): void {
    const base = job.options.retryDelay ?? DEFAULT_RETRY_DELAY_MS;
    const delay = base * 2 ** (job.attempt - 1) * (0.5 + Math.random() / 2);
    job.timer = setTimeout(() => {
      job.timer = undefined;
      if (job.future.done()) return this.#finalize(job);
      if (this.#cancelPending) return void job.future.cancel();
      this.#enqueue(job);
    }, delay);
  }

  #finalize(job: Job): void {
    if (job.runningAttempt !== 0 || job.timer !== undefined || job.queued && !job.future.done()) return;
    if (!job.future.done() || job.finalized) return;
    job.finalized = true;
    job.release();
    const state = job.future.state;
    if (state === 'done') this.#counts.completed++;
    else if (state === 'failed') this.#counts.failed++;
    else this.#counts.cancelled++;
    hooks.current?.taskFinished(this.kind, job, state);
    if (--this.#live === 0 && this.#drainWaiters.length > 0) {
      for (const wake of this.#drainWaiters.splice(0)) wake();
    }
  }

  static {
    settleHere = (job, ok, outcome) => {
      // runHere's backends keep the slot until the task's promise settles (their abandon does
      // nothing), so the attempt settling is the running one; 0 means it was let go already.
      const attempt = job.runningAttempt;
      if (attempt === 0) return;
      const owner = job.owner;
      const executor = (owner instanceof PumpRound ? owner.executor : owner) as ExecutorBase;
      if (ok) executor.resolveAttempt(job, attempt, outcome);
      else executor.rejectAttempt(job, attempt, outcome);
    };
  }

  #drained(): Promise<void> {
    if (this.#live === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }
}

/** What invokeInContext returns when it has already attached the reactions that settle the job. */
const WATCHED: unique symbol = Symbol('weft.watched');
const nativeThen = Promise.prototype.then;

/**
 * Runs a job's function here, its task context entered for everything it schedules. When it
 * returns a native promise, the reactions that settle the job are attached here, inside the
 * task's context, which the engine keeps with each reaction: two shared functions then find
 * the job as their async context, where a bound pair would cost 96 bytes per pending task.
 * Another thenable runs its callbacks wherever it likes, so it gets the bound pair (runHere).
 */
function invokeInContext(job: Job, onValue: (job: Job, value: unknown) => void): unknown {
  enterContext(job);
  const out = invokeHere(job, onValue, true);
  if (out instanceof Promise && out.then === nativeThen && asyncTaskContext() === job) {
    out.then(fulfilledInContext, rejectedInContext);
    return WATCHED;
  }
  return out;
}

// The outcome is reported from the context of the round that started the task, as runHere's
// bound pair does: future callbacks and the tasks the pump starts next must not inherit the
// task's. Re-entering a kept scope allocates nothing, where leaving the task's store by
// AsyncLocalStorage.run would copy the context frame on Node 24 (some 800 bytes a task).
function fulfilledInContext(value: unknown): void {
  const job = asyncTaskContext() as Job;
  (job.owner as PumpRound).runInAsyncScope(settleHere, undefined, job, true, value);
}

function rejectedInContext(error: unknown): void {
  const job = asyncTaskContext() as Job;
  (job.owner as PumpRound).runInAsyncScope(settleHere, undefined, job, false, error);
}

/**
 * The context scope of one pump round. Jobs run here in their own async context take it as
 * their owner, so the reactions that settle them can return to the round's context; it
 * forwards cancellations to the executor.
 */
class PumpRound extends ContextScope implements JobOwner {
  /**
   * The scope the round's tasks enter their contexts in. On Node 20 entering a context writes
   * the store on the scope it runs in, so the tasks get a scope of their own and this one keeps
   * the round's context as it was made.
   */
  readonly tasks = new ContextScope();

  constructor(readonly executor: ExecutorBase) {
    super();
  }

  jobCancelled(job: Job): void {
    this.executor.jobCancelled(job);
  }
}

/** Runs a job's function here; not `entered`, it has its context in its synchronous part only. */
function invokeHere(job: Job, onValue: (job: Job, value: unknown) => void, entered: boolean): unknown {
  return job.kind === 'call'
    // An entered job is the async context already; invokeTask then only fills the synchronous slot.
    ? invokeTask(job.fn, job.args, job, onValue, undefined, false)
    : invokeChunk(job.fn, job.args, job, entered, job.kind === 'items');
}

function resolvedHere(this: Job, value: unknown): void {
  settleHere(this, true, value);
}

function rejectedHere(this: Job, error: unknown): void {
  settleHere(this, false, error);
}

/** Items per map chunk at most: one chunk is one message each way, kept small enough to stream. */
const MAX_CHUNK = 1024;
/** Guided map chunks: each takes 1 / (slots × GUIDED_SHARE) of the items left (see MapPlan). */
const GUIDED_SHARE = 2;

/** See ExecutorBase.chunking. */
export interface MapChunking {
  slots: number;
  smallestShare: number;
}

/** The smallest guided chunk, and the size of imap's equal chunks. */
function smallestChunk(itemCount: number, { slots, smallestShare }: MapChunking): number {
  return Math.max(1, Math.min(Math.ceil(itemCount / (slots * smallestShare)), MAX_CHUNK));
}
