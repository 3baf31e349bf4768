import { EventEmitter } from 'node:events';
import { BrokenExecutorError, CancelledError } from '../core/errors.js';
import { ExecutorBase, type MapChunking } from '../core/executor.js';
import { futureInternals } from '../core/future.js';
import type { Job } from '../core/job.js';
import { isTaskRef, type AnyTask } from '../core/task.js';
import { functionSource } from '../pools/source.js';
import { ConnectionServer } from '../remote/listener.js';
import type { RefusalReport } from '../remote/refusals.js';
import { LocalWorkers } from './local-workers.js';
import { checkClusterOptions, type ClusterOptions, type ClusterSettings } from './options.js';
import type { StatusReply, WorkerInfo } from './protocol.js';
import { Scheduler } from './scheduler.js';
import { WorkerSession } from './session.js';

/**
 * An Executor over workers on any host (Celery's workers, SCOOP's futures.map across hosts,
 * Dispy's nodes), with the scheduler embedded in this process: no broker to run.
 *
 *   submit ─▶ ExecutorBase (queue, priorities, timeouts, retries) ─▶ Scheduler (leases, routing,
 *   prefetch windows, lost workers) ─▶ WorkerSession (one per connection, batched frames) ─▶
 *   `weft worker` on any host, or local workers this executor starts ─▶ their local pool
 *
 * Failure model (README "The cluster"): a worker that dies or is cut off has its leases revoked
 * and its tasks queued again at the front (not counted as attempts, up to maxRedeliveries); a
 * task that fails is retried with exponential backoff and jitter up to its `retries`, then its
 * future fails with the last error and it joins `deadLetters()`; a result for a revoked lease is
 * dropped, so each future settles once.
 */
export interface DeadLetter {
  id: string;
  task: string;
  args: readonly unknown[];
  attempts: number;
  error: unknown;
  failedAt: Date;
}

/** Events: payloads are plain objects. */
export interface ClusterEvents {
  'worker-joined': [WorkerInfo];
  'worker-lost': [WorkerInfo & { reason: string }];
  'worker-recovered': [WorkerInfo];
  'worker-draining': [WorkerInfo];
  'task-retried': [{ id: string; task: string; attempt: number; error: unknown }];
  'task-redelivered': [{ id: string; task: string; worker: number; reason: string; redeliveries: number }];
  'task-dead': [DeadLetter];
  'result-dropped': [{ worker: number; lease: unknown }];
  'local-worker-exit': [{ pid: number | undefined; code: number | null; signal: string | null; joined: boolean }];
  'connection-error': [Error];
  /** Sockets refused before authenticating, at most once per 10 s (see ListenOptions.onRefused). */
  'connections-refused': [RefusalReport];
}

/** Local workers dying this many times in a row before joining make start() fail. */
const MAX_FAILED_LOCAL_STARTS = 3;

export class ClusterExecutor extends ExecutorBase {
  protected readonly kind = 'ClusterExecutor';
  readonly #settings: ClusterSettings;
  readonly #scheduler: Scheduler;
  readonly #events = new EventEmitter();
  #server: ConnectionServer | undefined;
  #local: LocalWorkers | undefined;
  #starting: Promise<void> | undefined;
  #broken: Error | undefined;
  #deadLetters: DeadLetter[] = [];
  #dead = new WeakSet<Job>();

  constructor(options: ClusterOptions) {
    super();
    this.#settings = checkClusterOptions(options);
    const s = this.#settings;
    this.#scheduler = new Scheduler({
      resolveAttempt: (job, attempt, value) => this.resolveAttempt(job, attempt, value),
      rejectAttempt: (job, attempt, error) => this.rejectAttempt(job, attempt, error),
      requeueAttempt: (job, attempt) => this.requeueAttempt(job, attempt),
      pushValue: (job, attempt, value) => this.pushValue(job, attempt, value),
      capacityChanged: () => this.capacityChanged(),
      emit: (event, payload) => this.#events.emit(event, payload),
    }, { leaseTimeout: s.leaseTimeout, unroutableTimeout: s.unroutableTimeout, maxRedeliveries: s.maxRedeliveries });
    this.#scheduler.reserved = s.localWorkers * s.localConcurrency;
    this.#events.on('worker-joined', (info: WorkerInfo) => this.#local?.joined(info.pid));
  }

  /** The port workers connect to; 0 until start() has resolved. */
  get port(): number {
    return this.#server?.port ?? 0;
  }

  /** `tcp://host:port` for `weft worker --connect`; empty until started. */
  get url(): string {
    return this.#server?.url ?? '';
  }

  /**
   * Listens, starts the local workers and resolves once they have joined. Called on the first
   * submit if not before; call it yourself to learn the port or to see a listen error.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start().catch((error: Error) => {
      this.#broken = error;
      this.#scheduler.failParked(new BrokenExecutorError(`the cluster could not start: ${error.message}`, { cause: error }));
      void this.shutdown({ cancelPending: true, wait: false });
      throw error;
    });
    return this.#starting;
  }

  workers(): WorkerInfo[] {
    return [...this.#scheduler.members].map((m) => m.info());
  }

  /** Tasks that failed after their last attempt, oldest first. */
  deadLetters(): DeadLetter[] {
    return [...this.#deadLetters];
  }

  on<E extends keyof ClusterEvents>(event: E, listener: (...args: ClusterEvents[E]) => void): this {
    this.#events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<E extends keyof ClusterEvents>(event: E, listener: (...args: ClusterEvents[E]) => void): this {
    this.#events.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<E extends keyof ClusterEvents>(event: E, listener: (...args: ClusterEvents[E]) => void): this {
    this.#events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  status(): StatusReply {
    const stats = this.stats;
    return { workers: this.workers(), queued: stats.queued, running: stats.running, completed: stats.completed, failed: stats.failed, deadLetters: this.#deadLetters.length };
  }

  // ---- ExecutorBase hooks -------------------------------------------------------------------

  protected get capacity(): number {
    return Math.min(this.#settings.concurrency, this.#scheduler.capacity);
  }

  protected dispatch(job: Job): void {
    this.#scheduler.dispatch(job);
  }

  protected override abandon(job: Job, reason: unknown): void {
    this.#scheduler.abandon(job, reason);
  }

  protected override accept(task: AnyTask): void {
    if (this.#broken) throw new BrokenExecutorError(`the cluster could not start: ${this.#broken.message}`, { cause: this.#broken });
    if (!isTaskRef(task)) {
      const fn = task as (...args: any[]) => unknown;
      if (!this.#settings.allowFunctions && !this.#scheduler.acceptsFunctions) {
        throw new TypeError(`ClusterExecutor runs tasks from defineTasks() by name; got ${fn.name ? `the plain function ${fn.name}` : 'a plain function'}, which no worker has opted in to (start workers with --allow-functions, or the cluster with allowFunctions: true)`);
      }
      functionSource(fn);
    }
    if (!this.#starting) void this.start().catch(() => {});
  }

  /**
   * map over an array: guided chunks (see MapPlan), down to 1/16 of a slot's share. A chunk
   * costs a lease and a round trip, so the first are large; the last are small and keep the end
   * of a map balanced (with 4 equal chunks per slot, as multiprocessing cuts them, one worker may
   * still hold a quarter of its share when the other is done).
   */
  protected override chunking(): MapChunking {
    const slots = Math.max(1, this.#scheduler.totalSlots || this.#settings.localWorkers * this.#settings.localConcurrency);
    return { slots, smallestShare: 16 };
  }

  protected override async close(): Promise<void> {
    this.#scheduler.close();
    await this.#local?.stop();
    await this.#server?.close('the cluster is shutting down');
  }

  protected override rejectAttempt(job: Job, attempt: number, error: unknown): void {
    if (job.runningAttempt !== attempt) return;
    super.rejectAttempt(job, attempt, error);
    if (job.timer !== undefined && job.future.state === 'running') {
      this.#events.emit('task-retried', { id: job.id, task: nameOf(job), attempt, error });
    }
    this.#maybeDead(job, attempt);
  }

  protected override requeueAttempt(job: Job, attempt: number): void {
    if (job.runningAttempt !== attempt) return;
    super.requeueAttempt(job, attempt);
    this.#maybeDead(job, attempt);
  }

  // ---- internals ----------------------------------------------------------------------------

  async #start(): Promise<void> {
    const s = this.#settings;
    this.#server = await ConnectionServer.listen({
      host: s.host,
      port: s.port,
      tls: s.tls,
      authkey: s.authkey,
      heartbeatInterval: s.heartbeatInterval,
      // Much longer than the lease: a worker that lost its lease (a long pause, a slow link) may
      // come back on the same connection; leases, not this, decide where tasks run.
      heartbeatTimeout: Math.max(3 * s.leaseTimeout, 30_000),
      onError: (error) => this.#events.emit('connection-error', error),
      onRefused: (report) => this.#events.emit('connections-refused', report),
    }, (connection) => new WorkerSession(connection, this.#scheduler, {
      heartbeatInterval: s.heartbeatInterval,
      leaseTimeout: s.leaseTimeout,
      status: () => this.status(),
      failLease: (lease, error) => this.#scheduler.fail(lease, error),
    }));
    if (s.localWorkers === 0) return;
    const host = s.host === '0.0.0.0' || s.host === '::' ? '127.0.0.1' : s.host;
    const local = new LocalWorkers({
      count: s.localWorkers,
      connect: `tcp://${host.includes(':') ? `[${host}]` : host}:${this.port}`,
      authkey: s.authkey,
      pool: s.localPool,
      concurrency: s.localConcurrency,
      allowFunctions: s.allowFunctions,
      onExit: (info) => this.#events.emit('local-worker-exit', info),
    });
    this.#local = local;
    local.start();
    await this.#localJoined(local);
  }

  /** Resolves once every local worker has joined; rejects when they keep dying before joining. */
  #localJoined(local: LocalWorkers): Promise<void> {
    const count = this.#settings.localWorkers;
    const joinedLocal = () => this.workers().filter((w) => local.pids().includes(w.pid)).length;
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (joinedLocal() >= count) return done();
        if (local.failuresBeforeJoin >= MAX_FAILED_LOCAL_STARTS) {
          done(new BrokenExecutorError(`local workers exited ${local.failuresBeforeJoin} times before joining the cluster (see their output above)`));
        }
      };
      const done = (error?: Error) => {
        this.#events.off('worker-joined', check);
        this.#events.off('local-worker-exit', check);
        if (error) reject(error);
        else resolve();
      };
      this.#events.on('worker-joined', check);
      this.#events.on('local-worker-exit', check);
      check();
    });
  }

  #maybeDead(job: Job, attempts: number): void {
    if (job.future.state !== 'failed' || this.#dead.has(job)) return;
    const error = futureInternals.outcome(job.future);
    if (error instanceof CancelledError) return;
    this.#dead.add(job);
    if (this.#settings.maxDeadLetters === 0) return;
    const letter: DeadLetter = { id: job.id, task: nameOf(job), args: job.args, attempts, error, failedAt: new Date() };
    this.#deadLetters.push(letter);
    if (this.#deadLetters.length > this.#settings.maxDeadLetters) this.#deadLetters.shift();
    this.#events.emit('task-dead', letter);
  }
}

function nameOf(job: Job): string {
  return job.task?.taskName ?? (job.fn.name || 'anonymous function');
}
