import { availableParallelism, hostname } from 'node:os';
import { openBroker } from '../../broker/open.js';
import type { Broker, Consumer, Message, RefusedMessage } from '../../broker/types.js';
import { checkPositiveInteger, expected } from '../../core/validate.js';
import { PoolBase } from '../../pools/pool-base.js';
import { defaultResultBackend, openResultStore } from '../../results/open.js';
import { DEFAULT_RESULT_TTL_MS, type ResultStore } from '../../results/store.js';
import { CALL, CHUNK, ERR, OK, POOL_KINDS, PROGRESS as RUN_PROGRESS, YIELD as RUN_YIELD, type PoolKind } from '../protocol.js';
import { createPool, Runner } from '../worker-runner.js';
import { loadTaskModules, TaskTable } from '../worker-tasks.js';
import {
  ASK_STATUS, CONTROL_TOPIC, DRAIN, PREFETCH_PER_SLOT, PROGRESS, REVOKE, STATUS, YIELD, checkBatchMessage, checkTaskMessage, isBatchMessage,
  type BrokerWorkerInfo, type TaskMessage,
} from './messages.js';
import { Revocations } from './revocations.js';
import { Settler, type Held } from './settler.js';
import { Parcel } from './parcel.js';
import { TracedWork } from '../../observe/traced-work.js';
import { diagnostics } from '../../observe/diagnostics.js';
import { TRACEPARENT_HEADER } from '../../observe/traceparent.js';
import { TaskLog } from './task-log.js';
import { RetryReport, type LevelledLog } from '../retry-report.js';

/**
 * `weft worker --broker URL`: takes tasks from broker queues, runs them on a local pool, stores
 * each outcome in the result backend and only then acknowledges the task (acks late).
 *
 *   queues ─▶ consume (prefetch = concurrency × PREFETCH_PER_SLOT, manual ack) ─▶ check body
 *     │        (a body that is not a task message: dead-lettered with the reason); a batch
 *     │        message is unpacked into its tasks, each handled as below, and acknowledged
 *     │        once all of them are closed (parcel.ts)
 *     ├─ revoked here ─▶ closed, not run
 *     ├─ redelivered (or submitted while this worker did not hear revokes) and already has a
 *     │  result (a revoke's cancelled one too) ─▶ that result to the submitter again ─▶ closed, not run
 *     └─ Runner (the embedded cluster's: slices, generators, cancellation) ─▶ pool
 *           progress / yields ─▶ the submitter's inbox
 *           outcome ─▶ Settler: retry (republish with a later notBefore) | store (first wins)
 *                      ─▶ dead letter if it failed for good ─▶ reply to the submitter ─▶ close (ack with the last)
 *   control topic: REVOKE aborts running tasks' signals; ASK_STATUS answers with this worker's info
 *                  (running and recent tasks included); DRAIN <name> drains this worker
 *
 * The broker client keeps held messages owned while this process lives (lease renewal is the
 * adapter's: XCLAIM refresh, NATS in-progress acks, AMQP channel ownership); a worker that dies
 * or stops has them delivered again after `redeliverAfter`. When the connection is lost the
 * worker reconnects with backoff; tasks running then still store their outcome (the store has
 * its own connection) and their redelivered copies find it and are not run again.
 */
export interface BrokerWorkerOptions {
  /** `redis://…`, `amqp://…`, `nats://…`, `weft://…` or `memory://NAME` (a worker in this process). */
  broker: string;
  /** Queues to take tasks from. @default ['weft'] */
  queues?: string[];
  /** Task modules (paths or URLs) whose tasks this worker runs, by name. */
  tasks?: string[];
  /** @default 'threads' */
  pool?: PoolKind;
  /** Tasks run at once. @default os.availableParallelism() (1 for inline) */
  concurrency?: number;
  /** Messages held per queue: running and waiting here. @default concurrency × 4 */
  prefetch?: number;
  /** Where outcomes are stored; false: none (results reach submitters through their inboxes only). @default the broker's own server where it can (redis, nats, memory) */
  resultBackend?: string | false;
  /** How long stored results are kept, in ms. @default 86400000 (24 h) */
  resultTtl?: number;
  /** Shown by `weft status`. @default `${hostname}:${pid}` */
  name?: string;
  /** Longest pause between reconnection attempts, in ms. @default 5000 */
  maxReconnectDelay?: number;
  /** Where progress lines go, with their level (connection trouble is 'warn'). @default none */
  log?: LevelledLog;
}

const FIRST_RECONNECT_MS = 100;
const DEFAULT_MAX_RECONNECT_MS = 5000;
/**
 * A task submitted before this worker heard the control topic (plus this margin, for clocks
 * and the broadcast's delay) may have been revoked while it was not listening: the store is
 * asked first (the revoke left a cancelled outcome there). Only a backlog found at start, or
 * after a reconnect, pays for it.
 */
const UNHEARD_MARGIN_MS = 2000;

type Settings = Required<Omit<BrokerWorkerOptions, 'resultBackend' | 'log' | 'tasks'>>;

export class BrokerWorker {
  readonly #options: Settings;
  readonly #log: LevelledLog;
  readonly #retry: RetryReport;
  readonly #table: TaskTable;
  readonly #taskIds = new Map<string, number>();
  readonly #runner: Runner;
  readonly #held = new Map<number, Held>();
  /** Deliveries received with a trace carrier, until their outcome is known. */
  readonly #traced = new TracedWork();
  readonly #revoked = new Revocations();
  /** Since when this worker hears revokes on the control topic (this connection's subscription). */
  #hearingSince = Number.POSITIVE_INFINITY;
  readonly #taskLog = new TaskLog();
  readonly #settler: Settler;
  readonly #startedAt = Date.now();
  #nextLease = 1;
  #broker: Broker | undefined;
  #consumers: Consumer[] = [];
  #state: 'running' | 'draining' | 'closed' = 'running';

  /** A method, not a comparison, because the state changes across awaits. */
  get #closed(): boolean {
    return this.#state === 'closed';
  }
  #wake: (() => void) | undefined;
  #ready: { resolve(): void; reject(error: Error): void; promise: Promise<void> };
  readonly #loop: Promise<void>;

  private constructor(options: Settings, table: TaskTable, runnerPool: ReturnType<typeof createPool>, store: ResultStore | undefined, log: LevelledLog) {
    this.#options = options;
    this.#table = table;
    this.#log = log;
    this.#retry = new RetryReport('use', redact(options.broker), options.maxReconnectDelay, log);
    const gate = options.pool === 'green' || options.pool === 'inline' ? options.concurrency : Infinity;
    this.#runner = new Runner(runnerPool, table, (op, lease, value) => this.#emit(op, lease, value), gate);
    this.#settler = new Settler({
      store,
      resultTtl: options.resultTtl,
      worker: options.name,
      broker: () => this.#broker,
      revoked: (id) => this.#revoked.has(id),
      closing: () => this.#state === 'closed',
      log: (line) => log(line, 'warn'),
    });
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    promise.catch(() => {});
    this.#ready = { resolve, reject, promise };
    this.#loop = this.#connectLoop();
  }

  /** Loads the task modules and the pool, then keeps the worker consuming until close(). */
  static async start(options: BrokerWorkerOptions): Promise<BrokerWorker> {
    if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object with broker and tasks', options));
    if (typeof options.broker !== 'string') throw new TypeError(expected('broker', 'a broker URL such as redis://127.0.0.1:6379', options.broker));
    const brokerUrl = new URL(options.broker);
    const kind = options.pool ?? 'threads';
    if (!POOL_KINDS.includes(kind)) throw new TypeError(expected('pool', POOL_KINDS.join(' | '), kind));
    const concurrency = kind === 'inline' ? 1 : checkPositiveInteger('concurrency', options.concurrency ?? availableParallelism());
    const queues = options.queues ?? ['weft'];
    if (!Array.isArray(queues) || queues.length === 0 || !queues.every((q) => typeof q === 'string' && q !== '')) {
      throw new TypeError(expected('queues', 'a list of queue names', queues));
    }
    const tasks = options.tasks ?? [];
    if (!Array.isArray(tasks) || tasks.length === 0) throw new TypeError('a worker needs at least one task module (--tasks ./tasks.js)');
    const byName = await loadTaskModules(tasks);
    if (byName.size === 0) throw new TypeError(`the task modules ${tasks.join(', ')} define no tasks (define them with defineTasks())`);
    const table = new TaskTable(byName, { anyModule: false, functions: false });
    const resultTtl = options.resultTtl === undefined ? DEFAULT_RESULT_TTL_MS : checkPositiveInteger('resultTtl', options.resultTtl);
    const backend = options.resultBackend === false ? undefined : options.resultBackend ?? defaultResultBackend(brokerUrl)?.href;
    const store = backend === undefined ? undefined : await openResultStore(backend, { ttl: resultTtl });
    const pool = createPool(kind, concurrency);
    if (pool instanceof PoolBase) await pool.start();
    return new BrokerWorker({
      broker: options.broker,
      queues: [...new Set(queues)],
      pool: kind,
      concurrency,
      prefetch: options.prefetch === undefined ? concurrency * PREFETCH_PER_SLOT : checkPositiveInteger('prefetch', options.prefetch),
      resultTtl,
      name: options.name ?? `${hostname()}:${process.pid}`,
      maxReconnectDelay: options.maxReconnectDelay ?? DEFAULT_MAX_RECONNECT_MS,
    }, table, pool, store, diagnostics(options.log, { worker: options.name ?? `${hostname()}:${process.pid}` }));
  }

  get tasks(): string[] {
    return this.#table.names;
  }

  get inFlight(): number {
    return this.#held.size;
  }

  /** Resolves once the worker consumes its queues (again, after a reconnection). */
  ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** Resolves when the worker has stopped. */
  get done(): Promise<void> {
    return this.#loop;
  }

  info(): BrokerWorkerInfo {
    const o = this.#options;
    return {
      name: o.name, host: hostname(), pid: process.pid, pool: o.pool, queues: o.queues, tasks: this.#table.names,
      capacity: o.concurrency, prefetch: o.prefetch, inFlight: this.#held.size, completed: this.#runner.completed, failed: this.#runner.failed,
      duplicates: this.#settler.duplicates, startedAt: this.#startedAt, at: Date.now(),
      state: this.#state === 'running' ? 'ready' : 'draining',
      running: this.#taskLog.running(), recent: this.#taskLog.recent(),
    };
  }

  /** Takes nothing new, finishes and stores what it holds, then closes (SIGTERM). */
  async drain(): Promise<void> {
    if (this.#state !== 'running') return this.#loop.catch(() => {});
    this.#state = 'draining';
    this.#log(`draining: finishing ${this.#held.size} task(s), taking nothing new`);
    await Promise.allSettled(this.#consumers.map((consumer) => consumer.cancel()));
    await this.#runner.idle();
    await this.#settler.idle();
    await this.close();
  }

  /** Stops now: tasks held unsettled go back to their queues when the connection closes. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return this.#loop.catch(() => {});
    this.#state = 'closed';
    this.#wake?.();
    await this.#runner.close();
    await this.#broker?.close().catch(() => {});
    await this.#loop.catch(() => {});
    await this.#settler.close();
  }

  // ---- connection ---------------------------------------------------------------------------

  async #connectLoop(): Promise<void> {
    let failures = 0;
    while (this.#state !== 'closed') {
      try {
        await this.#session();
        failures = 0;
      } catch (error) {
        if (this.#closed) break;
        failures++;
        this.#retry.failed(error as Error);
      }
      if (this.#state !== 'running') break;
      const delay = Math.min(this.#options.maxReconnectDelay, FIRST_RECONNECT_MS * 2 ** Math.min(failures, 16)) * (0.5 + Math.random() / 2);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => { clearTimeout(timer); resolve(); };
      });
      this.#wake = undefined;
    }
  }

  /** One connection's life: subscribe to control, consume every queue, until it is lost. */
  async #session(): Promise<void> {
    const broker = await openBroker(this.#options.broker);
    this.#broker = broker;
    try {
      if (this.#closed) return;
      await broker.subscribe(CONTROL_TOPIC, (body) => this.#onControl(body), { onError: () => {} });
      this.#hearingSince = Date.now();
      this.#consumers = [];
      for (const queue of this.#options.queues) {
        this.#consumers.push(await broker.consume<unknown>(queue, (message) => this.#onMessage(queue, message), {
          prefetch: this.#options.prefetch,
          // Refill once nothing held waits for a slot: one read per batch instead of one per
          // settled task, and every slot still has a task in hand while the batch is read.
          ...(this.#options.prefetch > this.#options.concurrency ? { refillAt: this.#options.concurrency } : {}),
          autoAck: false,
          onRefused: (error: Error, message: RefusedMessage) => this.#settler.refused(queue, error, message),
          onError: (error) => this.#log(`${queue}: ${error.message}`, 'warn'),
        }));
      }
      this.#log(`consuming ${this.#options.queues.join(', ')} on ${redact(this.#options.broker)} as ${this.#options.name} (${this.#options.pool} x ${this.#options.concurrency}; tasks: ${this.#table.names.join(', ')})`);
      this.#retry.succeeded();
      this.#ready.resolve();
      const lost = await broker.closed;
      if (!this.#closed) this.#log(`lost the broker (${lost.message}); reconnecting`, 'warn');
    } finally {
      this.#broker = undefined;
      this.#hearingSince = Number.POSITIVE_INFINITY;
      this.#consumers = [];
      await broker.close().catch(() => {});
    }
  }

  // ---- tasks --------------------------------------------------------------------------------

  async #onMessage(queue: string, message: Message<unknown>): Promise<void> {
    const batched = isBatchMessage(message.body);
    let tasks: TaskMessage[];
    try {
      tasks = batched ? checkBatchMessage(message.body) : [checkTaskMessage(message.body)];
    } catch (error) {
      return this.#settler.deadLetterBody(queue, message, error as Error);
    }
    if (this.#state === 'closed') return; // the connection closes: it goes back to the queue
    const parcel = new Parcel(message, tasks.length, batched);
    let helds = tasks.map((task): Held => ({ queue, message, task, parcel })).filter((held) => this.#runnable(held));
    // Delivered before, or submitted while this worker did not hear revokes: its outcome (a
    // cancelled one included) may be stored already.
    const unheard = helds.some((held) => held.task.submitted < this.#hearingSince + UNHEARD_MARGIN_MS);
    if ((message.redelivered || unheard) && helds.length > 0) {
      const settled = await this.#settler.settledBefore(helds);
      helds = helds.filter((_, i) => !settled[i]);
    }
    const wait = batched || helds.length === 0 ? 0 : helds[0]!.task.notBefore - Date.now(); // a retry's backoff
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (this.#closed) return;
    for (const held of helds) if (this.#runnable(held)) this.#start(held);
  }

  /** False for a task revoked before it started: it is dropped (its message is settled with the rest). */
  #runnable(held: Held): boolean {
    if (!this.#revoked.has(held.task.id)) return true;
    this.#settler.drop(held);
    return false;
  }

  #start(held: Held): void {
    const { task, message, queue } = held;
    const leaseId = this.#nextLease++;
    this.#held.set(leaseId, held);
    this.#taskLog.started(leaseId, task);
    const args = task.kind === 'items' ? task.args.map((item) => [item]) : task.args;
    const run = () => this.#runner.run(task.kind === 'call' ? CALL : CHUNK, leaseId, this.#taskId(task), task.id, task.attempt, task.timeout, args);
    const trace = message.headers[TRACEPARENT_HEADER];
    if (trace === undefined) return run();
    this.#traced.begin(leaseId, task.task, trace, {
      'messaging.system': messagingSystem(this.#options.broker), 'messaging.destination.name': queue, 'messaging.message.id': task.id,
      'weft.task.attempt': task.attempt, 'weft.message.redelivered': message.redelivered,
    }, run);
    if (message.redelivered) this.#traced.event(leaseId, 'redelivered');
  }

  /** Task names become the Runner's numeric ids, defined once each. */
  #taskId(task: TaskMessage): number {
    let id = this.#taskIds.get(task.task);
    if (id === undefined) {
      id = this.#taskIds.size;
      this.#taskIds.set(task.task, id);
      this.#table.define(id, task.task, task.module, task.key, null);
    }
    return id;
  }

  #emit(op: number, leaseId: number, value: unknown): void {
    const held = this.#held.get(leaseId);
    if (!held) return;
    if (op === RUN_PROGRESS) this.#taskLog.progress(leaseId, value);
    if (op === RUN_PROGRESS || op === RUN_YIELD) return this.#settler.notify(held, op === RUN_PROGRESS ? PROGRESS : YIELD, value);
    this.#held.delete(leaseId);
    this.#traced.end(leaseId, op === ERR ? value ?? 'failed' : undefined);
    this.#taskLog.finished(leaseId, op === OK, value);
    this.#settler.finish(held, op === OK, op === ERR && value === undefined ? new Error('the task failed without an error') : value);
  }

  #onControl(body: unknown): void {
    if (!Array.isArray(body)) return;
    if (body[0] === REVOKE && Array.isArray(body[1])) {
      const reason = body[2] === 'TimeoutError' ? 'TimeoutError' : 'CancelledError';
      const text = typeof body[3] === 'string' ? body[3] : 'the task was revoked';
      for (const id of body[1]) {
        if (typeof id !== 'string') continue;
        this.#revoked.add(id);
        for (const [leaseId, held] of this.#held) if (held.task.id === id) this.#runner.cancel(leaseId, reason, text);
      }
    } else if (body[0] === ASK_STATUS && typeof body[1] === 'string') {
      this.#broker?.send(body[1], [STATUS, this.info()]).catch(() => {});
    } else if (body[0] === DRAIN && body[1] === this.#options.name) {
      this.#log(`asked to drain (control topic)`, 'info');
      void this.drain();
    }
  }
}

/** OpenTelemetry's messaging.system value for a broker URL. */
function messagingSystem(url: string): string {
  const scheme = url.slice(0, url.indexOf(':'));
  return ({ redis: 'redis', rediss: 'redis', amqp: 'rabbitmq', amqps: 'rabbitmq', nats: 'nats', kafka: 'kafka', sqs: 'aws_sqs' } as Record<string, string>)[scheme] ?? 'weft';
}

/** A broker URL without its password, for logs. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return url;
  }
}
