import { EventEmitter } from 'node:events';
import { BrokenExecutorError, CancelledError } from '../core/errors.js';
import { ExecutorBase, type MapChunking } from '../core/executor.js';
import { logger } from '../log.js';
import { exposeMetrics, type MetricsEndpoint } from '../observe/endpoint.js';
import { futureInternals, type Future } from '../core/future.js';
import { taskNameOf, type Job } from '../core/job.js';
import { isTaskRef, registeredTasks, type AnyTask } from '../core/task.js';
import { functionSource } from '../pools/source.js';
import { ConnectionServer } from '../remote/listener.js';
import type { RefusalReport } from '../remote/refusals.js';
import { LocalWorkers } from './local-workers.js';
import { BrokerEngine } from './durable/broker-engine.js';
import { PREFETCH_PER_SLOT, type BrokerWorkerInfo } from './durable/messages.js';
import { checkBrokerClusterOptions, type BrokerClusterOptions, type DurableSettings } from './durable/options.js';
import { checkClusterOptions, type ClusterOptions, type ClusterSettings, type EmbeddedClusterOptions } from './options.js';
import type { StatusReply, StatusRequest, WorkerInfo } from './protocol.js';
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
 * With `{ broker: url }` the queue and the results live on a server instead (durable, many
 * submitters, one fleet of `weft worker --broker`): see durable/broker-engine.ts.
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
  /** The broker-backed mode's engine; undefined for an embedded scheduler. */
  readonly #durable: BrokerEngine | undefined;
  readonly #durableSettings: DurableSettings | undefined;
  readonly #events = new EventEmitter();
  #server: ConnectionServer | undefined;
  #metrics: MetricsEndpoint | undefined;
  #local: LocalWorkers | undefined;
  #starting: Promise<void> | undefined;
  #broken: Error | undefined;
  #deadLetters: DeadLetter[] = [];
  #dead = new WeakSet<Job>();

  constructor(options: ClusterOptions) {
    super();
    const durable = typeof options === 'object' && options !== null && 'broker' in options;
    this.#durableSettings = durable ? checkBrokerClusterOptions(options as BrokerClusterOptions) : undefined;
    this.#settings = durable ? embeddedPlaceholder(this.#durableSettings!) : checkClusterOptions(options as EmbeddedClusterOptions);
    this.#durable = durable ? new BrokerEngine({
      resolveAttempt: (job, attempt, value) => this.resolveAttempt(job, attempt, value),
      rejectAttempt: (job, attempt, error) => this.rejectAttempt(job, attempt, error),
      pushValue: (job, attempt, value) => this.pushValue(job, attempt, value),
      emit: (event, payload) => this.#events.emit(event, payload),
    }, this.#durableSettings!) : undefined;
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

  /** The port of `/metrics` when started with the `metrics` option; 0 otherwise. */
  get metricsPort(): number {
    return this.#metrics?.port ?? 0;
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
    this.#starting ??= (this.#durable ? this.#startDurable() : this.#start()).catch((error: Error) => {
      this.#broken = error;
      this.#scheduler.failParked(new BrokenExecutorError(`the cluster could not start: ${error.message}`, { cause: error }));
      void this.shutdown({ cancelPending: true, wait: false });
      throw error;
    });
    return this.#starting;
  }

  /** Embedded: the connected workers. Broker: the workers that answered the last inspect(). */
  workers(): WorkerInfo[] {
    if (this.#durable) return this.#durable.workers.map(toWorkerInfo);
    return [...this.#scheduler.members].map((m) => m.info());
  }

  /**
   * A future for any task id (`future.id`), also one another process submitted, also after this
   * one restarted: read from the result backend (broker mode only).
   */
  result<T = unknown>(id: string): Future<T, unknown> {
    if (!this.#durable) throw new TypeError('cluster.result(id) reads a result backend: it needs ClusterExecutor({ broker })');
    if (typeof id !== 'string' || id === '') throw new TypeError(`Expected \`id\` to be a task id, got ${String(id)}`);
    if (!this.#starting) void this.start().catch(() => {});
    return this.#durable.result(id) as Future<T, unknown>;
  }

  /** Broker mode: asks every worker on the broker for its figures (they answer within `timeout` ms). */
  async inspect(timeout?: number): Promise<BrokerWorkerInfo[]> {
    if (!this.#durable) throw new TypeError('cluster.inspect() asks broker workers: it needs ClusterExecutor({ broker }); use workers() or status()');
    await this.start();
    return this.#durable.inspect(timeout);
  }

  /**
   * Broker mode: the broker's URL and the queues this cluster sends to (what a dashboard served
   * from it reads); undefined for an embedded scheduler.
   */
  get brokerTarget(): { url: string; queues: string[] } | undefined {
    const d = this.#durableSettings;
    return d && { url: d.broker, queues: [...new Set([d.queue, ...Object.values(d.routes)])] };
  }

  /**
   * Embedded: the scheduler sends worker `id` (`workers()[i].id`) nothing new from now on, as
   * when the worker drains itself; what it holds finishes. False if no such worker is connected.
   */
  drainWorker(id: number): boolean {
    if (this.#durable) throw new TypeError('cluster.drainWorker(id) is the embedded scheduler\'s; broker workers drain on SIGTERM or a DRAIN control message (the dashboard sends one)');
    const member = [...this.#scheduler.members].find((m) => m.id === id);
    if (!member) return false;
    this.#scheduler.drain(member);
    return true;
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

  /**
   * The embedded scheduler's workers and counters (what `weft status` prints); with
   * `{ tasks: true }` also the tasks workers hold now and the last finished ones (from then on
   * the scheduler keeps the last 50).
   */
  status(request: StatusRequest = {}): StatusReply {
    const stats = this.stats;
    const reply: StatusReply = { workers: this.workers(), queued: stats.queued, running: stats.running, completed: stats.completed, failed: stats.failed, deadLetters: this.#deadLetters.length };
    if (request.tasks === true && !this.#durable) reply.tasks = this.#scheduler.tasks.read(this.#scheduler.members);
    return reply;
  }

  /**
   * Cancels the task future `id` that a worker of the embedded scheduler runs now (its signal
   * aborts there), as `future.cancel()` would: for the dashboard, which holds no future. False
   * when no worker runs it (finished, still queued, or unknown).
   */
  revokeRunning(id: string): boolean {
    if (this.#durable) throw new TypeError('cluster.revokeRunning(id) is the embedded scheduler\'s; with a broker, cluster.result(id).cancel() revokes');
    const job = this.#scheduler.running(id);
    return job !== undefined && job.future.cancel();
  }

  // ---- ExecutorBase hooks -------------------------------------------------------------------

  protected get capacity(): number {
    if (this.#durableSettings) return this.#durableSettings.concurrency;
    return Math.min(this.#settings.concurrency, this.#scheduler.capacity);
  }

  protected override get remoteAttempts(): boolean {
    return this.#durable !== undefined;
  }

  protected override nextJobId(): string | undefined {
    return this.#durable?.nextId();
  }

  protected dispatch(job: Job): void {
    if (this.#durable) this.#durable.dispatch(job);
    else this.#scheduler.dispatch(job);
  }

  protected override cancelHandedOff(): void {
    void this.#durable?.cancelUnstarted();
  }

  protected override abandon(job: Job, reason: unknown): void {
    if (this.#durable) this.#durable.abandon(job, reason);
    else this.#scheduler.abandon(job, reason);
  }

  protected override accept(task: AnyTask): void {
    if (this.#broken) throw new BrokenExecutorError(`the cluster could not start: ${this.#broken.message}`, { cause: this.#broken });
    if (!isTaskRef(task) && this.#durable) {
      throw new TypeError('ClusterExecutor({ broker }) runs tasks from defineTasks() by name: plain functions cannot travel through a broker');
    }
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
    if (this.#durableSettings) {
      // Broker workers take up to their prefetch in one read: guided chunks cut for their slots
      // alone would let the first reader hold most of a map (4 large chunks) while the others
      // wait. Cut for the messages the fleet holds, so what one worker takes is its share; the
      // smallest chunk is still 1/16 of a slot's share (a slot holds PREFETCH_PER_SLOT messages):
      // smaller ones would only add messages, each a store, a reply and an acknowledgement.
      const d = this.#durableSettings;
      const held = this.#durable!.fleetHeld || d.localWorkers * d.localConcurrency * PREFETCH_PER_SLOT || DEFAULT_BROKER_SLOTS;
      return { slots: Math.max(1, held), smallestShare: 16 / PREFETCH_PER_SLOT };
    }
    const slots = Math.max(1, this.#scheduler.totalSlots || this.#settings.localWorkers * this.#settings.localConcurrency);
    return { slots, smallestShare: 16 };
  }

  protected override async close(): Promise<void> {
    this.#scheduler.close();
    await this.#local?.stop();
    await this.#server?.close('the cluster is shutting down');
    await this.#metrics?.close();
    await this.#durable?.close();
  }

  protected override rejectAttempt(job: Job, attempt: number, error: unknown): void {
    if (job.runningAttempt !== attempt) return;
    super.rejectAttempt(job, attempt, error);
    if (job.timer !== undefined && job.future.state === 'running') {
      this.#events.emit('task-retried', { id: job.id, task: taskNameOf(job), attempt, error });
    }
    this.#maybeDead(job, attempt);
  }

  protected override requeueAttempt(job: Job, attempt: number): void {
    if (job.runningAttempt !== attempt) return;
    super.requeueAttempt(job, attempt);
    this.#maybeDead(job, attempt);
  }

  // ---- internals ----------------------------------------------------------------------------

  async #startDurable(): Promise<void> {
    const d = this.#durableSettings!;
    await this.#durable!.start();
    if (d.localWorkers === 0) return;
    const local = new LocalWorkers({
      count: d.localWorkers,
      config: {
        mode: 'broker',
        broker: d.broker,
        resultBackend: d.resultBackend ?? false,
        resultTtl: d.resultTtl,
        queues: [...new Set([d.queue, ...Object.values(d.routes)])],
        tasks: localTaskModules(),
        pool: d.localPool,
        concurrency: d.localConcurrency,
      },
      onExit: (info) => this.#events.emit('local-worker-exit', info),
    });
    this.#local = local;
    local.start();
    await this.#localReady(local, d.localWorkers);
    // The fleet's capacity cuts map's chunks: ask once the local workers listen.
    await this.#durable!.inspect(200).catch(() => {});
  }

  /** Resolves once `count` local broker workers consume; rejects when they keep dying first. */
  #localReady(local: LocalWorkers, count: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (local.readyCount >= count) return done();
        if (local.failuresBeforeJoin >= MAX_FAILED_LOCAL_STARTS) {
          done(new BrokenExecutorError(`local workers exited ${local.failuresBeforeJoin} times before consuming (see their output above)`));
        }
      };
      const done = (error?: Error) => {
        local.onChange = undefined;
        if (error) reject(error);
        else resolve();
      };
      local.onChange = check;
      check();
    });
  }

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
      status: (request) => this.status(request),
      revoke: (id) => this.revokeRunning(id),
      drainWorker: (id) => this.drainWorker(id),
      failLease: (lease, error) => this.#scheduler.fail(lease, error),
    }));
    if (s.metrics) this.#metrics = await exposeMetrics(s.metrics);
    if (s.localWorkers === 0) return;
    const host = s.host === '0.0.0.0' || s.host === '::' ? '127.0.0.1' : s.host;
    const local = new LocalWorkers({
      count: s.localWorkers,
      config: {
        mode: 'connect',
        connect: `tcp://${host.includes(':') ? `[${host}]` : host}:${this.port}`,
        authkey: s.authkey.toString('base64'),
        pool: s.localPool,
        concurrency: s.localConcurrency,
        allowFunctions: s.allowFunctions,
      },
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
    // Broker mode: the worker that stored the dead letter on the server reports it.
    if (!this.#durable) logger().warn('task dead-lettered after its last attempt', { task: taskNameOf(job), id: job.id, attempts, error });
    if (this.#settings.maxDeadLetters === 0) return;
    const letter: DeadLetter = { id: job.id, task: taskNameOf(job), args: job.args, attempts, error, failedAt: new Date() };
    this.#deadLetters.push(letter);
    if (this.#deadLetters.length > this.#settings.maxDeadLetters) this.#deadLetters.shift();
    this.#events.emit('task-dead', letter);
  }
}

function toWorkerInfo(w: BrokerWorkerInfo, index: number): WorkerInfo {
  return {
    id: index + 1, name: w.name, host: w.host, pid: w.pid, tasks: w.tasks, pool: w.pool as WorkerInfo['pool'], capacity: w.capacity,
    inFlight: w.inFlight, completed: w.completed, failed: w.failed, state: w.state,
    joinedAt: new Date(w.startedAt), lastHeartbeat: new Date(w.at),
  };
}

/** Slots assumed for map's chunks when no broker worker has answered yet. */
const DEFAULT_BROKER_SLOTS = 4;

/** The modules of every task this process has defined: what its local broker workers load. */
function localTaskModules(): string[] {
  const urls = new Set<string>();
  for (const ref of registeredTasks()) if (ref.moduleUrl.startsWith('file:')) urls.add(ref.moduleUrl);
  return [...urls];
}

/** Broker mode has no scheduler of its own; the embedded settings are inert there. */
function embeddedPlaceholder(d: DurableSettings): ClusterSettings {
  return {
    host: '127.0.0.1', port: 0, tls: undefined, authkey: Buffer.alloc(0), localWorkers: 0, localPool: d.localPool,
    localConcurrency: d.localConcurrency, allowFunctions: false, concurrency: d.concurrency, heartbeatInterval: 1000,
    leaseTimeout: 10_000, unroutableTimeout: 5000, maxRedeliveries: 10, maxDeadLetters: d.maxDeadLetters, metrics: undefined,
  };
}
