import { randomBytes } from 'node:crypto';
import { openBroker } from '../../broker/open.js';
import type { Broker, Inbox } from '../../broker/types.js';
import { CancelledError, ConnectionClosedError } from '../../core/errors.js';
import { Future, futureInternals } from '../../core/future.js';
import type { Job } from '../../core/job.js';
import { Codec } from '../../remote/codec.js';
import { openResultStore } from '../../results/open.js';
import type { ResultStore } from '../../results/store.js';
import type { DurableSettings } from './options.js';
import {
  CONTROL_TOPIC, MESSAGE_VERSION, PREFETCH_PER_SLOT, PROGRESS, RESULT, RESULTS, RETRYING, REVOKE, YIELD,
  type BatchItem, type BatchMessage, type BrokerWorkerInfo, type StoredResult, type TaskMessage,
} from './messages.js';
import { SubmitBatches } from './submit-batches.js';
import type { TaskRef } from '../../core/task.js';
import { ResultWatch } from './result-watch.js';
import { askWorkers } from './status.js';

/** shutdown({ cancelPending }): how long the workers are given to say what they run. */
const CANCEL_ASK_MS = 500;
import { hooks } from '../../observe/hooks.js';
import { TRACEPARENT_HEADER } from '../../observe/traceparent.js';

/**
 * The submitter's side of the broker-backed cluster: jobs the executor starts become task
 * messages on the broker; outcomes come back to this submitter's inbox, and are in the result
 * store for anyone else.
 *
 *   ExecutorBase ─▶ dispatch(job) ─▶ calls of one tick coalesced per queue (submit-batches.ts)
 *        │            ─▶ publish TaskMessage or BatchMessage (queue by route, replyTo = inbox)
 *        ▲                                                   │ workers (any host, any number)
 *        └── resolve / reject / pushValue ◀── inbox ◀────────┘ RESULT(S) | PROGRESS | YIELD | RETRYING
 *   cancel ─▶ REVOKE on the control topic (running: its signal aborts) + a 'cancelled' record
 *             in the store (first settle wins: a later outcome is dropped)
 *   connection lost ─▶ reconnect; jobs in flight are looked up in the store until settled
 *             (without a store their messages are published again: at least once)
 *   connection interrupted (it came back by itself; replies sent meanwhile were dropped)
 *             ─▶ the same for the jobs in flight, on the same connection
 *
 * The executor owns queueing, priorities among the jobs it holds back (`concurrency`) and
 * map; the workers own each attempt's timeout and the retries (remoteAttempts), so a retry
 * happens even when this process is gone.
 */
export interface EngineHost {
  resolveAttempt(job: Job, attempt: number, value: unknown): void;
  rejectAttempt(job: Job, attempt: number, error: unknown): void;
  pushValue(job: Job, attempt: number, value: unknown): void;
  emit(event: string, payload: unknown): void;
}

const FIRST_RECONNECT_MS = 100;
const MAX_RECONNECT_MS = 5000;
/** A failed publish waits at most this long before it tries again, less if the connection comes back first. */
const MAX_PUBLISH_RETRY_MS = 1000;
/** Messages a fleet nobody asked about is taken to hold at once (for batch sizes). */
const DEFAULT_HELD = 4;

export class BrokerEngine {
  readonly #host: EngineHost;
  readonly #settings: DurableSettings;
  readonly #codec = new Codec();
  /** This submitter's id prefix: future ids are `<prefix>-<n>`, unique across submitters. */
  readonly #prefix = randomBytes(8).toString('hex');
  #nextId = 0;
  readonly #jobs = new Map<string, Job>();
  #broker: Broker | undefined;
  #inbox: Inbox | undefined;
  #store: ResultStore | undefined;
  #watch: ResultWatch | undefined;
  #starting: Promise<void> | undefined;
  #connected: Promise<void> | undefined;
  #closed = false;
  /** Revocations being sent: close() lets them reach the server first. */
  #pendingRevokes: Promise<void> = Promise.resolve();
  #fleet: BrokerWorkerInfo[] = [];
  /** Publishes waiting to try again: woken when the connection is back. */
  readonly #publishWaiters = new Set<() => void>();
  /** The calls of one tick, coalesced per queue (submit-batches.ts). */
  readonly #batches = new SubmitBatches((queue, jobs) => this.#send(queue, jobs), () => this.#heldEstimate(), () => this.#settings.batchSize);

  constructor(host: EngineHost, settings: DurableSettings) {
    this.#host = host;
    this.#settings = settings;
  }

  /** Tasks the workers that answered the last status request run at once. */
  get fleetCapacity(): number {
    return this.#fleet.reduce((sum, w) => sum + w.capacity, 0);
  }

  /** Messages those workers hold at most: what one read of theirs can take from a queue. */
  get fleetHeld(): number {
    return this.#fleet.reduce((sum, w) => sum + (w.prefetch ?? w.capacity * PREFETCH_PER_SLOT), 0);
  }

  /** What the fleet holds, or a guess before any worker answered (the local workers', else a few). */
  #heldEstimate(): number {
    const s = this.#settings;
    return this.fleetHeld || s.localWorkers * s.localConcurrency * PREFETCH_PER_SLOT || DEFAULT_HELD;
  }

  get workers(): BrokerWorkerInfo[] {
    return [...this.#fleet];
  }

  nextId(): string {
    return `${this.#prefix}-${(++this.#nextId).toString(36)}`;
  }

  /** Opens the result store and connects, once; resolves when tasks can be published. */
  start(): Promise<void> {
    this.#starting ??= (async () => {
      if (this.#settings.resultBackend !== undefined) {
        this.#store = await openResultStore(this.#settings.resultBackend, { ttl: this.#settings.resultTtl });
        this.#watch = new ResultWatch(this.#store);
      }
      await this.#connect();
    })();
    return this.#starting;
  }

  /** Resolves once connected (after start, and again after a reconnection). */
  async #ready(): Promise<void> {
    await this.start();
    while (!this.#broker && !this.#closed) await (this.#connected ?? this.#connect());
  }

  dispatch(job: Job): void {
    this.#jobs.set(job.id, job);
    job.slot = this.#route(job);
    // A call goes with the others of this tick, unless something of its own must travel in
    // its message's headers (its trace) or it is one of map's chunks (batched already).
    if (job.kind === 'call' && this.#settings.batchSize > 1 && hooks.current?.carrierOf(job) === undefined) {
      this.#batches.add(job.slot as string, job);
    } else {
      this.#send(job.slot as string, [job]);
    }
  }

  /** Publishes `jobs` (one queue's) as one message; a job whose message cannot go fails alone. */
  #send(queue: string, jobs: Job[]): void {
    const attempts = jobs.map((job) => job.runningAttempt);
    this.#publish(queue, jobs).catch((error: Error) => {
      jobs.forEach((job, i) => {
        if (this.#jobs.get(job.id) !== job) return;
        this.#jobs.delete(job.id);
        this.#host.rejectAttempt(job, attempts[i]!, error);
      });
    });
  }

  /** One job: a TaskMessage; several: a BatchMessage. */
  #message(jobs: Job[]): TaskMessage | BatchMessage {
    const submitted = Date.now();
    if (jobs.length === 1) {
      const job = jobs[0]!;
      const task = job.task!;
      return {
        v: MESSAGE_VERSION, id: job.id, task: task.taskName, module: task.moduleUrl, key: task.key, kind: job.kind,
        args: job.args as unknown[], attempt: 1, retries: job.options.retries ?? 0, retryDelay: job.options.retryDelay ?? 100,
        timeout: job.options.timeout ?? 0, notBefore: 0, submitted,
      };
    }
    const tasks: BatchMessage['tasks'] = [];
    const index = new Map<TaskRef, number>();
    const batch = jobs.map((job): BatchItem => {
      const task = job.task!;
      let i = index.get(task);
      if (i === undefined) {
        i = tasks.push([task.taskName, task.moduleUrl, task.key]) - 1;
        index.set(task, i);
      }
      return [job.id, i, job.args as unknown[], job.options.retries ?? 0, job.options.retryDelay ?? 100, job.options.timeout ?? 0];
    });
    return { v: MESSAGE_VERSION, tasks, batch, submitted };
  }

  /**
   * shutdown({ cancelPending }): the tasks this submitter awaits that no worker has started are
   * cancelled (revoked: dropped when a worker takes them). Which have started is asked of the
   * workers (their status answer lists what they run); one that starts in between is aborted.
   * Without an answer from the broker every task is cancelled: none could settle anyway.
   */
  async cancelUnstarted(wait = CANCEL_ASK_MS): Promise<void> {
    let started = new Set<string>();
    try {
      const fleet = await this.inspect(wait);
      started = new Set(fleet.flatMap((worker) => (worker.running ?? []).map((task) => task.id)));
    } catch (error) {
      this.#host.emit('connection-error', error as Error);
    }
    for (const job of [...this.#jobs.values()]) if (!started.has(job.id)) job.future.cancel();
  }

  /** Cancelled: every worker hears it; the store keeps it so no later outcome wins. */
  abandon(job: Job, reason: unknown): void {
    this.#jobs.delete(job.id);
    this.revoke([job.id], reason);
    // The task may never reach a worker again (still queued): the slot is free now.
    this.#host.rejectAttempt(job, job.runningAttempt, reason);
  }

  revoke(ids: string[], reason: unknown): void {
    const error = reason instanceof Error ? reason : new CancelledError('the task was revoked');
    const work = (async () => {
      await this.#ready();
      await this.#broker?.broadcast(CONTROL_TOPIC, [REVOKE, ids, error.name, error.message]);
      if (this.#store) {
        const record: StoredResult = [false, new CancelledError(error.message), 0, 'submitter', Date.now()];
        const bytes = this.#codec.encode(record);
        await Promise.all(ids.map((id) => this.#store!.settle(id, bytes, this.#settings.resultTtl)));
      }
    })();
    const settled = work.catch((failure: Error) => { this.#host.emit('connection-error', failure); });
    this.#pendingRevokes = Promise.all([this.#pendingRevokes, settled]).then(() => {});
  }

  /** A future for any task id: this submitter's own, or one read from the result store. */
  result(id: string): Future<unknown, unknown> {
    const own = this.#jobs.get(id);
    if (own) return own.future;
    if (this.#settings.resultBackend === undefined) {
      throw new TypeError(`cluster.result() needs a result backend: ${this.#settings.brokerKind} keeps no results; pass resultBackend: 'redis://…' (or nats://…)`);
    }
    const future = new Future<unknown, unknown>(id);
    futureInternals.setRunning(future);
    const settle = (record: StoredResult) => {
      if (future.done()) return;
      if (record[0]) futureInternals.setResult(future, record[1]);
      else if (record[1] instanceof CancelledError) future.cancel();
      else futureInternals.setException(future, record[1]);
    };
    futureInternals.setCancelListener(future, { onCancel: () => { this.#watch?.forget(id); this.revoke([id], new CancelledError(`future ${id} was cancelled`)); } });
    this.start().then(() => { if (!future.done()) this.#watch!.add(id, settle); }, (error: Error) => {
      if (!future.done()) futureInternals.setException(future, error);
    });
    return future;
  }

  /** Asks every worker for its figures; resolves with those that answered within `wait` ms. */
  async inspect(wait?: number): Promise<BrokerWorkerInfo[]> {
    await this.#ready();
    this.#fleet = await askWorkers(this.#broker!, wait);
    return this.workers;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wakePublishers();
    // A start still under way would open connections after this: let it finish first.
    await this.#starting?.catch(() => {});
    await this.#pendingRevokes;
    this.#watch?.close();
    await this.#inbox?.close().catch(() => {});
    await this.#broker?.close().catch(() => {});
    await this.#store?.close().catch(() => {});
  }

  // ---- internals ----------------------------------------------------------------------------

  #route(job: Job): string {
    const task = job.task!;
    if (task.options.queue) return task.options.queue;
    const routes = this.#settings.routes;
    const namespace = task.taskName.includes('.') ? task.taskName.slice(0, task.taskName.lastIndexOf('.')) : '';
    return routes[task.taskName] ?? routes[namespace] ?? this.#settings.queue;
  }

  /**
   * Publishes the message of the jobs still in flight among `jobs`. A body the broker cannot
   * carry (TypeError, RangeError) is split in two, down to the job that cannot go, which fails;
   * a server that cannot take it now (down, restarting, reconnecting) is tried again with
   * backoff until it does, or every job is settled or cancelled meanwhile, or the engine closes.
   * A publish that failed may still have reached the server: a task then runs twice at most,
   * and its first stored outcome wins.
   */
  async #publish(queue: string, jobs: Job[]): Promise<void> {
    await this.start(); // a cluster that never connected is broken: its jobs fail
    const live = () => jobs.filter((job) => this.#jobs.get(job.id) === job); // not settled or cancelled meanwhile
    for (let failures = 0; ; failures++) {
      if (live().length === 0) return;
      if (this.#closed) throw new ConnectionClosedError('the cluster was shut down before the task reached the broker');
      try {
        await this.#ready();
        const now = live();
        if (now.length === 0 || this.#closed) continue;
        const message = this.#message(now);
        const headers: Record<string, string> = { 'weft-task': 'task' in message ? message.task : message.tasks.map((t) => t[0]).join(',') };
        const trace = now.length === 1 ? hooks.current?.carrierOf(now[0]!) : undefined;
        if (trace !== undefined) headers[TRACEPARENT_HEADER] = trace;
        await this.#broker!.publish(queue, message, { replyTo: this.#inbox!.address, headers });
        return;
      } catch (error) {
        if (error instanceof TypeError || error instanceof RangeError) {
          const now = live();
          if (now.length <= 1) throw error;
          const half = now.length >> 1;
          this.#send(queue, now.slice(0, half));
          this.#send(queue, now.slice(half));
          return;
        }
        await new Promise<void>((resolve) => {
          const wake = () => { clearTimeout(timer); this.#publishWaiters.delete(wake); resolve(); };
          const timer = setTimeout(wake, Math.min(MAX_PUBLISH_RETRY_MS, FIRST_RECONNECT_MS * 2 ** Math.min(failures, 16)));
          this.#publishWaiters.add(wake);
        });
      }
    }
  }

  #connect(): Promise<void> {
    this.#connected ??= (async () => {
      const broker = await openBroker(this.#settings.broker);
      try {
        this.#inbox = await broker.openInbox((body) => this.#onReply(body), { onError: (error) => this.#host.emit('connection-error', error) });
      } catch (error) {
        await broker.close().catch(() => {});
        throw error;
      }
      this.#broker = broker;
      void broker.closed.then((error) => this.#lost(broker, error));
      broker.onInterrupted((error) => this.#interrupted(broker, error));
      this.#wakePublishers();
    })();
    this.#connected.catch(() => (this.#connected = undefined));
    return this.#connected;
  }

  /** The connection went away: reconnect, then find out what happened to the jobs in flight. */
  async #lost(broker: Broker, error: Error): Promise<void> {
    if (this.#closed || this.#broker !== broker) return;
    this.#host.emit('connection-error', new ConnectionClosedError(`lost the broker; reconnecting: ${error.message}`, { cause: error }));
    this.#broker = undefined;
    this.#connected = undefined;
    for (let failures = 0; !this.#closed; failures++) {
      try {
        await this.#connect();
        break;
      } catch {
        const delay = Math.min(MAX_RECONNECT_MS, FIRST_RECONNECT_MS * 2 ** Math.min(failures, 16));
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    if (this.#closed) return;
    // Their outcomes went to the old inbox, which is gone.
    this.#recoverInFlight();
  }

  /** The connection dropped and came back by itself: outcomes sent to the inbox meanwhile were dropped. */
  #interrupted(broker: Broker, error: Error): void {
    if (this.#closed || this.#broker !== broker) return;
    this.#host.emit('connection-error', new ConnectionClosedError(`the broker connection was interrupted; looking up ${this.#jobs.size} task(s) in flight: ${error.message}`, { cause: error }));
    this.#wakePublishers();
    this.#recoverInFlight();
  }

  /** The connection is (back) up: publishes that failed try again now. */
  #wakePublishers(): void {
    for (const wake of [...this.#publishWaiters]) wake();
  }

  /**
   * Outcomes of the jobs in flight may have been sent to an inbox that did not hear them: read
   * them from the store (an outcome is stored before it is sent) until each is settled, or,
   * with no store, publish them again (at least once).
   */
  #recoverInFlight(): void {
    for (const job of [...this.#jobs.values()]) {
      if (!this.#watch) this.#republish(job);
      else if (!this.#watch.has(job.id)) this.#watch.add(job.id, (record) => this.#settleFromStore(job.id, record));
    }
  }

  #republish(job: Job): void {
    const attempt = job.runningAttempt;
    this.#jobs.delete(job.id);
    this.dispatch(job);
    if (job.runningAttempt !== attempt) this.#host.rejectAttempt(job, attempt, new ConnectionClosedError('the broker connection was lost'));
  }

  #settleFromStore(id: string, record: StoredResult): void {
    const job = this.#jobs.get(id);
    if (!job) return;
    this.#jobs.delete(id);
    this.#settle(job, record[0], record[1], record[2]);
  }

  #settle(job: Job, ok: boolean, value: unknown, attempts: number): void {
    if (ok) return this.#host.resolveAttempt(job, job.runningAttempt, value);
    if (Number.isInteger(attempts) && attempts > job.attempt) job.attempt = attempts;
    this.#host.rejectAttempt(job, job.runningAttempt, value);
  }

  #onResult(id: unknown, ok: unknown, value: unknown, attempts: unknown): void {
    const job = typeof id === 'string' ? this.#jobs.get(id) : undefined;
    if (!job) return; // settled already (cancelled, or an earlier copy's outcome)
    this.#jobs.delete(job.id);
    this.#watch?.forget(job.id);
    this.#settle(job, ok === true, value, Number(attempts));
  }

  #onReply(body: unknown): void {
    if (!Array.isArray(body)) return;
    const op = body[0];
    if (op === RESULTS) {
      if (Array.isArray(body[1])) for (const item of body[1]) if (Array.isArray(item)) this.#onResult(item[0], item[1], item[2], item[3]);
      return;
    }
    const job = typeof body[1] === 'string' ? this.#jobs.get(body[1]) : undefined;
    if (!job) return; // settled already (cancelled, or an earlier copy's outcome)
    if (op === RESULT) {
      this.#onResult(body[1], body[2], body[3], body[4]);
    } else if (op === PROGRESS) {
      if (job.future.state === 'running') futureInternals.reportProgress(job.future, body[2]);
    } else if (op === YIELD) {
      this.#host.pushValue(job, job.runningAttempt, body[2]);
    } else if (op === RETRYING) {
      hooks.current?.taskRetrying('ClusterExecutor', job, body[3]);
      this.#host.emit('task-retried', { id: job.id, task: job.task?.taskName, attempt: Number(body[2]), error: body[3] });
    }
  }
}
