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
  CONTROL_TOPIC, MESSAGE_VERSION, PROGRESS, RESULT, RETRYING, REVOKE, YIELD,
  type BrokerWorkerInfo, type StoredResult, type TaskMessage,
} from './messages.js';
import { ResultWatch } from './result-watch.js';
import { askWorkers } from './status.js';

/**
 * The submitter's side of the broker-backed cluster: jobs the executor starts become task
 * messages on the broker; outcomes come back to this submitter's inbox, and are in the result
 * store for anyone else.
 *
 *   ExecutorBase ─▶ dispatch(job) ─▶ publish TaskMessage (queue by route, replyTo = inbox)
 *        ▲                                                   │ workers (any host, any number)
 *        └── resolve / reject / pushValue ◀── inbox ◀────────┘ RESULT | PROGRESS | YIELD | RETRYING
 *   cancel ─▶ REVOKE on the control topic (running: its signal aborts) + a 'cancelled' record
 *             in the store (first settle wins: a later outcome is dropped)
 *   connection lost ─▶ reconnect; jobs in flight are looked up in the store until settled
 *             (without a store their messages are published again: at least once)
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

  constructor(host: EngineHost, settings: DurableSettings) {
    this.#host = host;
    this.#settings = settings;
  }

  /** Tasks the workers that answered the last status request run at once. */
  get fleetCapacity(): number {
    return this.#fleet.reduce((sum, w) => sum + w.capacity, 0);
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
    const attempt = job.runningAttempt;
    const task = job.task!;
    const message: TaskMessage = {
      v: MESSAGE_VERSION,
      id: job.id,
      task: task.taskName,
      module: task.moduleUrl,
      key: task.key,
      kind: job.kind,
      args: job.args as unknown[],
      attempt: 1,
      retries: job.options.retries ?? 0,
      retryDelay: job.options.retryDelay ?? 100,
      timeout: job.options.timeout ?? 0,
      notBefore: 0,
      submitted: Date.now(),
    };
    this.#jobs.set(job.id, job);
    job.slot = this.#route(job);
    this.#publish(job, message).catch((error: Error) => {
      if (this.#jobs.get(job.id) !== job) return;
      this.#jobs.delete(job.id);
      this.#host.rejectAttempt(job, attempt, error);
    });
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

  async #publish(job: Job, message: TaskMessage): Promise<void> {
    await this.#ready();
    if (this.#jobs.get(job.id) !== job) return; // cancelled meanwhile
    await this.#broker!.publish(job.slot as string, message, { replyTo: this.#inbox!.address, headers: { 'weft-task': message.task } });
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
    // Their outcomes went to the old inbox, which is gone: read them from the store, or, with
    // no store, publish them again with the new inbox (at least once).
    for (const job of [...this.#jobs.values()]) {
      if (this.#watch) this.#watch.add(job.id, (record) => this.#settleFromStore(job.id, record));
      else this.#republish(job);
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

  #onReply(body: unknown): void {
    if (!Array.isArray(body)) return;
    const op = body[0];
    const job = typeof body[1] === 'string' ? this.#jobs.get(body[1]) : undefined;
    if (!job) return; // settled already (cancelled, or an earlier copy's outcome)
    if (op === RESULT) {
      this.#jobs.delete(job.id);
      this.#watch?.forget(job.id);
      this.#settle(job, body[2] === true, body[3], Number(body[4]));
    } else if (op === PROGRESS) {
      if (job.future.state === 'running') futureInternals.reportProgress(job.future, body[2]);
    } else if (op === YIELD) {
      this.#host.pushValue(job, job.runningAttempt, body[2]);
    } else if (op === RETRYING) {
      this.#host.emit('task-retried', { id: job.id, task: job.task?.taskName, attempt: Number(body[2]), error: body[3] });
    }
  }
}
