import { availableParallelism } from 'node:os';
import { RemoteError, WorkerCrashedError, type SerializedError } from '../core/errors.js';
import { ExecutorBase, type ExecutorStats, type MapChunking, type ShutdownOptions } from '../core/executor.js';
import type { Future } from '../core/future.js';
import { Deque } from '../core/deque.js';
import type { Job } from '../core/job.js';
import type { ObjectServer, WorkerKind } from '../core/shareable.js';
import { isTaskRef, type AnyTask, type TaskRef } from '../core/task.js';
import { checkMilliseconds, checkPositiveInteger, expected } from '../core/validate.js';
import { functionSource } from './source.js';
import type { ExitInfo, Transport, TransportEvents } from './transports.js';
import { ABORT, ERR, MODULE, OK, PROGRESS, SOURCE, YIELD } from './wire.js';
import { WorkerSlot, type WorkerStats } from './worker-slot.js';
import { fatesOf, Isolation } from './worker-loss.js';
import { logger } from '../log.js';

/**
 * The engine of ThreadPool and ProcessPool. How work flows:
 *
 *   submit ─▶ ExecutorBase queue ─▶ pump ─▶ dispatch(job) ─▶ slot.outbox ┐ one microtask later,
 *                                    ▲        (least loaded worker)      │ one message per worker
 *                                    │                                   ▼
 *   future ◀─ resolve/rejectAttempt ◀┴── onMessage(batch) ◀── worker: runs calls in order,
 *                                                             answers once per event-loop turn
 *                                                             (or after FLUSH_AFTER_MS of work)
 *
 * - Single calls, below a deep queue: `capacity` = workers, one call per worker (a short call
 *   buffered behind one that turns out long would wait while another worker idles).
 * - map chunks measured shorter than LONG_TASK_MS, at least one per worker waiting: two per
 *   worker (double buffering). The worker takes the second straight from its port when the
 *   first ends (threads: no event-loop turn), answers the first at once, and the pool sends a
 *   new second while it runs: no idle gap.
 * - Deep queue (>= DEEP_QUEUE per worker waiting): `capacity` = workers × window, so each worker
 *   holds a window of calls and the round trip is paid once per batch, not once per task. The
 *   window aims at TARGET_BATCH_MS of work per worker, from a running estimate of the task time
 *   (quick to rise, slow to fall), so long tasks are not hoarded by one worker while another
 *   idles at the end of a map.
 * - map over an array: guided chunks, large first and small last (chunking), each one
 *   message of bare items (ITEMS), its results one message back.
 * - Calls prefetched into a worker count as running for the futures: cancelling one that has not
 *   started yet makes it start with its signal already aborted, as any cancelled running task.
 *   The window bounds that work to about TARGET_BATCH_MS per worker.
 * - Workers start on demand (or all with start()); a job waits unbound for whichever is ready
 *   first. Cold (none ready, threads), each starting worker is sent one job with its spawn: it
 *   waits in the worker's port and starts when the worker is up, no "ready" round trip first.
 *   A worker lost before it was ready ran none of them: they are unbound again.
 * - A worker runs its calls one at a time, so when it dies only the call it was running is
 *   blamed (threads say which through shared memory, processes in an exit report); the others
 *   run again (worker-loss.ts). Answers not sent yet come in its exit handler (threads) or
 *   exit report (processes), unless it died unable to run JavaScript (out of memory, killed).
 * - A child that died without a report holding several calls: they are suspects, run one at a
 *   time by one worker (the isolator) that takes nothing else meanwhile; the call that kills it
 *   alone is the one blamed.
 * - A cancelled or timed-out call still running after `cancelGraceMs` gets its worker
 *   terminated, only while it is still that worker's head (so a later task is never the victim).
 */

/** Waiting tasks per worker from which the pool prefetches (below it, one call per worker). */
const DEEP_QUEUE = 8;
/** Work a worker should hold at once: enough to hide a round trip, small enough to balance. */
const TARGET_BATCH_MS = 1;
const MAX_WINDOW = 256;
/** First guess of a task's duration: a window of 2 until real replies say otherwise. */
const INITIAL_TASK_MS = TARGET_BATCH_MS / 2;
/** Calls at least this long are not double-buffered: a round trip is lost in them. */
const LONG_TASK_MS = 16;
const DEFAULT_CANCEL_GRACE_MS = 3000;
/** The smallest map chunk, as a share of one worker's items: under a millisecond of pi. */
const SMALLEST_CHUNK_SHARE = 128;

export interface PoolOptions {
  /** Most workers at once; they start on demand (or all with `start()`). @default os.availableParallelism() */
  workers?: number;
  /**
   * Milliseconds a cancelled or timed-out task may keep running after its signal aborted; then
   * its worker is terminated and replaced. `pool.cancel(future, { force: true })` does not wait.
   * @default 3000
   */
  cancelGraceMs?: number;
  /** Milliseconds an idle worker lives before it is stopped (restarted on demand). @default Infinity */
  idleTimeout?: number;
}

/** Every PoolOptions key (checkKnownOptions). */
export const POOL_OPTION_KEYS: Record<keyof PoolOptions, true> = { workers: true, cancelGraceMs: true, idleTimeout: true };

export interface PoolStats extends ExecutorStats {
  workers: WorkerStats[];
}

export interface CancelOptions {
  /** Terminate the worker running it now instead of waiting for `cancelGraceMs`. */
  force?: boolean;
}

export abstract class PoolBase extends ExecutorBase {
  readonly size: number;
  readonly cancelGraceMs: number;
  readonly idleTimeout: number;
  #workers: WorkerSlot[] = [];
  #live = 0;
  #nextWorkerId = 1;
  #open = true;
  #closeWaiters: (() => void)[] = [];
  #taskIds = new Map<(...args: any[]) => unknown, number>();
  #defs: [how: number, where: string, key: string][] = [];
  #dirty: WorkerSlot[] = [];
  /** Dispatched jobs waiting for a worker to finish starting. */
  #unbound = new Deque<Job>();
  /** Calls of a worker that died without saying which one it was running: each runs alone. */
  #suspects = new Isolation((w, job) => this.#bind(w, job), (job) => this.requeueAttempt(job, job.runningAttempt), (w) => this.#takeUnbound(w));
  #flushQueued = false;
  #taskMs = INITIAL_TASK_MS;
  /** Whether #taskMs comes from replies rather than the first guess. */
  #measured = false;
  #window = Math.round(TARGET_BATCH_MS / INITIAL_TASK_MS);
  #flush = () => this.#flushAll();

  protected abstract readonly workerKind: WorkerKind;
  /**
   * Whether work may be sent to a worker that has not said it is ready: its messages wait for
   * it (a worker thread's port keeps them until the worker listens; a child's IPC is not relied on).
   */
  protected readonly sendsWhileStarting: boolean = false;
  protected abstract spawnTransport(workerId: number, events: TransportEvents): Transport;
  /** Processes: the server that serves shareable objects to children. */
  protected get objectServer(): ObjectServer | undefined {
    return undefined;
  }

  constructor(options: PoolOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
    this.size = checkPositiveInteger('workers', options.workers ?? availableParallelism());
    this.cancelGraceMs = checkMilliseconds('cancelGraceMs', options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS);
    const idle = options.idleTimeout ?? Infinity;
    this.idleTimeout = idle === Infinity ? idle : checkMilliseconds('idleTimeout', idle);
  }

  /** Starts every worker now and resolves once all can take work (otherwise they start on demand). */
  async start(): Promise<void> {
    while (this.#live < this.size && this.#open) this.#spawn();
    await Promise.all(this.#workers.map((w) => (w.ready ? undefined : new Promise<void>((resolve) => w.readyWaiters.push(resolve)))));
  }

  /** Cancels `future`; with `force`, also terminates the worker running it at once. */
  cancel(future: Future<any, any>, options: CancelOptions = {}): boolean {
    const cancelled = future.cancel();
    if (options.force) {
      for (const w of this.#workers) {
        const head = w.fifo.peek();
        // Not yet ready: the task has not started, and starts with its signal aborted.
        if (!w.exiting && w.ready && head?.future === future) this.#kill(w, 'its task was cancelled with force', undefined, head);
      }
    }
    return cancelled;
  }

  /**
   * Terminates every worker now (`signal` for processes; threads just stop). Tasks they were
   * running fail with WorkerCrashedError; tasks queued behind them run on new workers.
   */
  terminateWorkers(signal?: NodeJS.Signals): void {
    for (const w of [...this.#workers]) if (w.exiting !== 'kill') this.#kill(w, `terminated by the caller${signal ? ` with ${signal}` : ''}`, signal);
  }

  override get stats(): PoolStats {
    return { ...super.stats, workers: this.#workers.filter((w) => !w.exiting).map((w) => w.stats()) };
  }

  override shutdown(options?: ShutdownOptions): Promise<void> {
    this.#open = false;
    return super.shutdown(options);
  }

  // ---- ExecutorBase hooks -------------------------------------------------------------------

  protected get capacity(): number {
    // Double buffering of map chunks: a worker holds its next chunk while it runs one, so it
    // starts it at once instead of idling for a round trip; not for long chunks (a round trip is
    // lost in them), nor before a reply has measured them, nor with fewer chunks waiting than
    // workers. Single calls are not buffered below a deep queue: a short call buffered behind
    // one that turns out long would wait while another worker idles.
    const queued = this.queuedCount;
    const buffered = this.#measured && this.#taskMs < LONG_TASK_MS && queued >= this.size && this.nextQueuedKind !== 'call' ? 2 : 1;
    if (queued < this.size * DEEP_QUEUE) return this.size * buffered;
    return this.size * Math.max(this.#window, buffered);
  }

  // map over an array: guided chunks (see MapPlan). multiprocessing.Pool cuts 4 equal chunks per
  // worker; large chunks first send fewer messages, and small ones last keep a worker slowed by
  // other load from holding up the end.
  protected override chunking(): MapChunking | undefined {
    return { slots: this.size, smallestShare: SMALLEST_CHUNK_SHARE };
  }

  protected override accept(task: AnyTask): void {
    // A plain function is checked (and its source read) once, not once per submit.
    if (!isTaskRef(task)) this.#taskIdOf(task as (...args: any[]) => unknown, undefined);
  }

  protected dispatch(job: Job): void {
    const w = this.#pick();
    if (w) this.#bind(w, job);
    else this.#unbound.push(job);
  }

  /** Sends `job` to `w`: its DEF the first time, the call, and an abort if it already has one. */
  #bind(w: WorkerSlot, job: Job): void {
    const taskId = this.#taskIdOf(job.fn, job.task);
    w.pushCall(job, taskId, this.#defs[taskId]!, this.workerKind, this.objectServer);
    if (w.idleTimer) w.idleTimer = void clearTimeout(w.idleTimer);
    if (!w.busy) w.markBusy(true, performance.now());
    this.#markDirty(w);
    if (job.aborted) this.abandon(job, job.signal.reason); // cancelled or timed out while unbound
  }

  /** A worker that just became ready or idle takes its fair share of the jobs waiting for one. */
  #takeUnbound(w: WorkerSlot): void {
    if (this.#unbound.length === 0 || w.exiting || w === this.#suspects.worker) return;
    let starting = 1;
    for (const other of this.#workers) if (other !== w && !other.ready && !other.exiting && other !== this.#suspects.worker) starting++;
    for (let n = Math.ceil(this.#unbound.length / starting); n > 0; n--) this.#bind(w, this.#unbound.shift()!);
  }

  protected override abandon(job: Job, reason: unknown): void {
    const w = job.slot as WorkerSlot | undefined;
    if (!w || w.exiting) return;
    const index = w.fifo.indexOf(job);
    if (index < 0) return;
    const error = reason as Error;
    w.outbox.push(ABORT, w.settled + 1 + index, error.name, error.message);
    this.#markDirty(w);
    if (index === 0) this.#armGrace(w);
  }

  protected override async close(): Promise<void> {
    for (const w of this.#workers) this.#stop(w);
    if (this.#workers.length > 0) await new Promise<void>((resolve) => this.#closeWaiters.push(resolve));
  }

  // ---- workers ------------------------------------------------------------------------------

  /**
   * An idle ready worker, else the least loaded ready one once the pool is at full strength.
   * Undefined while a worker is still starting (a new one is started if below `size`): the job
   * waits unbound and goes to whichever worker is ready or idle first, so a slow start delays
   * no task more than it must (nor queues it behind a long one on a busy worker).
   * Cold (no worker ready, threads): one job goes to each starting worker that has none, sent
   * at once, so that it starts the moment its worker has (no round trip after "ready").
   */
  #pick(): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    let starting = false;
    let ready = false;
    let emptyStarting: WorkerSlot | undefined;
    for (const w of this.#workers) {
      if (w.exiting || w === this.#suspects.worker) continue;
      if (!w.ready) {
        starting = true;
        if (w.fifo.length === 0) emptyStarting ??= w;
        continue;
      }
      ready = true;
      if (w.fifo.length === 0) return w;
      if (!best || w.fifo.length < best.fifo.length) best = w;
    }
    const cold = !ready && this.sendsWhileStarting;
    if (cold && emptyStarting) return emptyStarting;
    if (this.#live < this.size) {
      const w = this.#spawn();
      return cold ? w : undefined;
    }
    return starting ? undefined : best;
  }

  #spawn(): WorkerSlot {
    const w = new WorkerSlot(this.#nextWorkerId++);
    w.transport = this.spawnTransport(w.id, {
      message: (batch) => this.#onMessage(w, batch),
      exit: (info) => this.#onExit(w, info),
    });
    this.#workers.push(w); // ref'd (keeping the program alive) until ready, then only while busy
    this.#live++;
    return w;
  }

  #stop(w: WorkerSlot): void {
    if (w.exiting) return;
    w.exiting = 'stop';
    this.#live--;
    w.transport.stop();
  }

  #kill(w: WorkerSlot, reason: string, signal?: NodeJS.Signals, target?: Job): void {
    if (w.exiting === 'kill') return;
    if (!w.exiting) this.#live--;
    w.exiting = 'kill';
    w.killReason = reason;
    w.killTarget = target;
    w.transport.kill(signal);
  }

  #armGrace(w: WorkerSlot): void {
    // A starting worker runs nothing yet: its grace period begins when it is ready.
    if (w.graceTimer || w.exiting || !w.ready) return;
    const seq = w.settled + 1;
    w.graceTimer = setTimeout(() => {
      w.graceTimer = undefined;
      // Only while the cancelled call is still the one running (workerpool #548).
      if (w.settled + 1 === seq && w.fifo.length > 0) {
        this.#kill(w, `a cancelled or timed-out task was still running ${this.cancelGraceMs} ms after its signal aborted`, undefined, w.fifo.peek());
      }
    }, this.cancelGraceMs);
  }

  #onMessage(w: WorkerSlot, batch: unknown[]): void {
    if (!w.ready) {
      w.ready = true;
      for (const wake of w.readyWaiters.splice(0)) wake();
      // Work sent while it started: its time is measured from now, not from the spawn.
      if (w.busy) w.lastReplyAt = performance.now();
      if (w.fifo.peek()?.aborted) this.#armGrace(w);
      this.#refill(w);
      if (!w.busy) w.transport.setBusy(false);
    }
    let settledNow = 0;
    for (let i = 0; i < batch.length; i += 3) {
      const op = batch[i] as number;
      const seq = batch[i + 1] as number;
      if (op === OK || op === ERR) {
        if (seq !== w.settled + 1) continue; // cannot happen while workers keep call order
        const job = w.fifo.shift()!;
        w.settled++;
        settledNow++;
        job.slot = undefined;
        if (w.streamed.size > 0) w.streamed.delete(job);
        if (w.graceTimer) w.graceTimer = void clearTimeout(w.graceTimer);
        if (op === OK) {
          w.completed++;
          this.resolveAttempt(job, job.runningAttempt, batch[i + 2]);
        } else {
          w.failed++;
          this.rejectAttempt(job, job.runningAttempt, RemoteError.fromSerialized(batch[i + 2] as SerializedError));
        }
      } else if (seq === w.settled + 1 && w.fifo.length > 0) {
        const job = w.fifo.peek()!;
        if (op === YIELD) {
          w.streamed.add(job);
          this.pushValue(job, job.runningAttempt, batch[i + 2]);
        }
        else if (op === PROGRESS) job.progress(batch[i + 2]);
      }
    }
    if (settledNow > 0) this.#afterReplies(w, settledNow);
  }

  #afterReplies(w: WorkerSlot, settledNow: number): void {
    const now = performance.now();
    // A moving average of the time per call, as seen from here; it rises faster than it falls,
    // so that long calls stop being prefetched (and hoarded by one worker) soon.
    const sample = (now - w.lastReplyAt) / settledNow;
    this.#taskMs += (sample - this.#taskMs) / (sample > this.#taskMs ? 2 : 8);
    this.#measured = true;
    this.#window = Math.max(1, Math.min(MAX_WINDOW, Math.round(TARGET_BATCH_MS / Math.max(this.#taskMs, 1e-6))));
    w.lastReplyAt = now;
    if (w.fifo.length === 0) this.#refill(w);
    if (w.fifo.length === 0) {
      w.markBusy(false, now);
      if (this.idleTimeout !== Infinity && !w.exiting) {
        w.idleTimer = setTimeout(() => { if (w.fifo.length === 0) this.#stop(w); }, this.idleTimeout);
        w.idleTimer.unref();
      }
    } else if (w.fifo.peek()!.aborted) {
      this.#armGrace(w);
    }
  }

  #onExit(w: WorkerSlot, info: ExitInfo): void {
    const diedStarting = !w.ready && !w.exiting;
    const stopped = w.exiting === 'stop';
    this.#workers.splice(this.#workers.indexOf(w), 1);
    if (!w.exiting) this.#live--;
    w.exiting ||= 'kill'; // gone: nothing may be bound to it from here on
    if (w.graceTimer) clearTimeout(w.graceTimer);
    if (w.idleTimer) clearTimeout(w.idleTimer);
    if (w === this.#suspects.worker) this.#suspects.worker = undefined;
    // Answers it wrote while dying (process.exit, an uncaught error) still count.
    if (info.pending) this.#onMessage(w, info.pending);
    w.markBusy(false, performance.now());
    const jobs = [...w.fifo.drain()];
    // Sent while it started: none of them ran, so they wait for a worker again, first in line.
    if (!w.ready) this.#unbindAll(jobs);
    else if (jobs.length > 0) this.#failOrRequeue(w, info, jobs);
    if (this.#workers.length === 0 && this.#closeWaiters.length > 0) for (const wake of this.#closeWaiters.splice(0)) wake();
    // Keep the pool at strength after a crash; idle stops are not replaced until there is work,
    // nor are workers that died starting (that would loop; the next task retries on demand).
    if (this.#open && !diedStarting && !stopped && this.#live < this.size) this.#spawn();
    else if ((this.#unbound.length > 0 || this.#suspects.jobs.length > 0) && this.#live === 0) {
      // Jobs wait for a worker and none is left: start one, unless starting is what fails.
      if (this.#open && !diedStarting) this.#spawn();
      else this.#failUnbound(w, info);
    }
    this.#suspects.isolate(this.#workers);
  }

  /** Jobs back to the front of the unbound queue, in order; an idle ready worker takes its share now. */
  #unbindAll(jobs: Job[]): void {
    if (jobs.length === 0) return;
    for (let i = jobs.length - 1; i >= 0; i--) {
      jobs[i]!.slot = undefined;
      this.#unbound.unshift(jobs[i]!);
    }
    for (const other of this.#workers) if (other.ready && !other.exiting && other.fifo.length === 0) this.#refill(other);
  }

  /** No worker could start: the jobs waiting for one fail rather than wait forever. */
  #failUnbound(w: WorkerSlot, info: ExitInfo): void {
    const reason = `the worker failed to start${info.reason ? `: ${info.reason}` : ''}`;
    for (const job of [...this.#suspects.jobs.drain(), ...this.#unbound.drain()]) {
      this.rejectAttempt(job, job.runningAttempt, new WorkerCrashedError({ workerId: w.id, exitCode: info.exitCode, signal: info.signal, reason }));
    }
  }

  /** The worker died holding `jobs`: see worker-loss.ts for what becomes of each. */
  #failOrRequeue(w: WorkerSlot, info: ExitInfo, jobs: Job[]): void {
    const how = w.killReason ?? info.reason ?? (w.ready ? 'the worker exited' : 'the worker failed to start');
    const fates = fatesOf(w, info.started, jobs);
    logger().warn(`${this.kind} worker lost`, { worker: w.id, reason: how, tasks: jobs.length });
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const fate = fates[i];
      job.slot = undefined;
      if (fate === 'suspect') this.#suspects.jobs.push(job);
      if (fate !== 'blamed' && fate !== 'streamed') continue;
      const reason = fate === 'blamed' ? how : `${how} (this task had streamed values, so it is not run again)`;
      w.failed++;
      this.rejectAttempt(job, job.runningAttempt, new WorkerCrashedError({ workerId: w.id, exitCode: info.exitCode, signal: info.signal, reason, outOfMemory: fate === 'blamed' && info.outOfMemory }));
    }
    // Backwards: each goes to the front of the queue, so they keep their order.
    for (let i = jobs.length - 1; i >= 0; i--) if (fates[i] === 'rerun') this.requeueAttempt(jobs[i]!, jobs[i]!.runningAttempt);
  }

  /** A worker that became ready or idle: the isolator takes the next suspect, others their share of unbound jobs. */
  #refill(w: WorkerSlot): void {
    if (w === this.#suspects.worker) this.#suspects.feed();
    else this.#takeUnbound(w);
  }

  // ---- messages -----------------------------------------------------------------------------

  #taskIdOf(fn: (...args: any[]) => unknown, task: TaskRef | undefined): number {
    let id = this.#taskIds.get(fn);
    if (id !== undefined) return id;
    const def: [number, string, string] = task ? [MODULE, task.moduleUrl, task.key] : [SOURCE, functionSource(fn), ''];
    id = this.#defs.length;
    this.#defs.push(def);
    this.#taskIds.set(fn, id);
    return id;
  }

  #markDirty(w: WorkerSlot): void {
    if (w.dirty) return;
    w.dirty = true;
    this.#dirty.push(w);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  #flushAll(): void {
    this.#flushQueued = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const w of dirty) {
      const undeliverable = w.flush();
      if (!undeliverable) continue;
      for (const [job, cause] of undeliverable) {
        job.slot = undefined;
        const error = new TypeError(`the arguments of task future ${job.id} could not be sent to a worker: ${(cause as Error)?.message ?? String(cause)}`, { cause });
        this.rejectAttempt(job, job.runningAttempt, error);
      }
      if (w.fifo.length === 0) w.markBusy(false, performance.now());
    }
  }
}
