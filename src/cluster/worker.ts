import { availableParallelism, hostname } from 'node:os';
import { AuthenticationError, ProtocolError } from '../core/errors.js';
import type { Executor } from '../core/executor.js';
import { checkPositiveInteger, expected } from '../core/validate.js';
import { PoolBase } from '../pools/pool-base.js';
import { Codec } from '../remote/codec.js';
import type { Connection } from '../remote/connection.js';
import { dial, parseAddress } from '../remote/dial.js';
import { HEADER_SIZE } from '../remote/frame.js';
import { authkeyBytes } from '../remote/handshake.js';
import {
  CALL, CALL_WIDTH, CANCEL, CANCEL_WIDTH, CHUNK, ClusterFrame, DEF, DEF_WIDTH, DONE_WIDTH, ERR, OK, POOL_KINDS, PROGRESS, TRACE, TRACE_WIDTH,
  type JoinMessage, type PoolKind, type WelcomeMessage,
} from './protocol.js';
import { createPool, Runner } from './worker-runner.js';
import { TracedWork } from '../observe/traced-work.js';
import { diagnostics } from '../observe/diagnostics.js';
import { loadTaskModules, TaskTable } from './worker-tasks.js';
import { RetryReport, type LevelledLog } from './retry-report.js';

/**
 * `weft worker`: joins a cluster's scheduler, announces its tasks and capacity, runs what it is
 * sent on a local pool, and reports results in batches (one DONE frame per tick).
 *
 *   connect ─▶ handshake (authkey) ─▶ JOIN ─▶ WELCOME ─▶ WORK… / DONE… / HEARTBEAT every interval
 *      ▲                                                          │ connection lost
 *      └──────── backoff: 100 ms doubling to 5 s, with jitter ◀───┘ (its tasks are cancelled here:
 *                                                                   the scheduler runs them again)
 *
 * A wrong authkey is not retried: it will not get better. `drain()` (SIGTERM) tells the scheduler
 * to send nothing more, finishes what this worker holds, then closes.
 */
export interface ClusterWorkerOptions {
  /** The scheduler: `tcp://HOST:PORT`. */
  connect: string;
  authkey: string | Uint8Array;
  /** Task modules (paths or URLs) whose tasks this worker offers, by name. */
  tasks?: string[];
  /** @default 'threads' */
  pool?: PoolKind;
  /** Tasks run at once. @default os.availableParallelism() (1 for inline) */
  concurrency?: number;
  /** Shown in `cluster.workers()`. @default `${hostname}:${pid}` */
  name?: string;
  /** Run plain functions the caller ships as source. @default false */
  allowFunctions?: boolean;
  /** Import any task module by URL (workers the cluster starts on its own host). @default false */
  anyModule?: boolean;
  /** Longest pause between reconnection attempts, in ms. @default 5000 */
  maxReconnectDelay?: number;
  /** Where progress lines go, with their level (connection trouble is 'warn'). @default none */
  log?: LevelledLog;
}

type Settings = Required<Pick<ClusterWorkerOptions, 'connect' | 'pool' | 'concurrency' | 'name' | 'allowFunctions' | 'anyModule' | 'maxReconnectDelay'>> & { authkey: Buffer };

const FIRST_RECONNECT_MS = 100;
const DEFAULT_MAX_RECONNECT_MS = 5000;

export class ClusterWorker {
  readonly #options: Settings;
  readonly #log: LevelledLog;
  readonly #retry: RetryReport;
  readonly #table: TaskTable;
  readonly #runner: Runner;
  readonly #codec = new Codec();
  #connection: Connection | undefined;
  #state: 'running' | 'draining' | 'closed' = 'running';
  #out: unknown[] = [];
  #flushQueued = false;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #joinWaiters: ((error?: Error) => void)[] = [];
  #wakeReconnect: (() => void) | undefined;
  #loop: Promise<void>;
  /** Leases received with a trace carrier, until their outcome goes back. */
  readonly #traced = new TracedWork();
  /** Task names by the scheduler's task id, for span names. */
  readonly #taskNames: string[] = [];

  private constructor(options: Settings, table: TaskTable, pool: Executor, log: LevelledLog) {
    this.#options = options;
    this.#table = table;
    this.#log = log;
    this.#retry = new RetryReport('reach', options.connect, options.maxReconnectDelay, log);
    // Pools on this event loop take calls up to their concurrency (see Runner); the others all.
    const gate = options.pool === 'green' || options.pool === 'inline' ? options.concurrency : Infinity;
    this.#runner = new Runner(pool, table, (op, lease, value) => this.#emit(op, lease, value), gate, () => this.#flush());
    this.#loop = this.#connectLoop();
  }

  /** Loads the task modules, then keeps the worker connected until close(). */
  static async start(options: ClusterWorkerOptions): Promise<ClusterWorker> {
    if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object with connect and authkey', options));
    parseAddress(options.connect);
    const kind = options.pool ?? 'threads';
    if (!POOL_KINDS.includes(kind)) throw new TypeError(expected('pool', POOL_KINDS.join(' | '), kind));
    const concurrency = kind === 'inline' ? 1 : checkPositiveInteger('concurrency', options.concurrency ?? availableParallelism());
    const tasks = options.tasks ?? [];
    if (!Array.isArray(tasks) || !tasks.every((t) => typeof t === 'string')) throw new TypeError(expected('tasks', 'a list of module paths', tasks));
    const anyModule = options.anyModule === true;
    if (tasks.length === 0 && !anyModule) throw new TypeError('a worker needs at least one task module (--tasks ./tasks.js)');
    const byName = await loadTaskModules(tasks);
    if (byName.size === 0 && !anyModule) throw new TypeError(`the task modules ${tasks.join(', ')} define no tasks (define them with defineTasks())`);
    const allowFunctions = options.allowFunctions === true;
    const table = new TaskTable(byName, { anyModule, functions: allowFunctions });
    // The pool starts before the worker joins: the capacity it announces is there at once.
    const pool = createPool(kind, concurrency);
    if (pool instanceof PoolBase) await pool.start();
    return new ClusterWorker({
      connect: options.connect,
      authkey: authkeyBytes(options.authkey),
      pool: kind,
      concurrency,
      name: options.name ?? `${hostname()}:${process.pid}`,
      allowFunctions,
      anyModule,
      maxReconnectDelay: options.maxReconnectDelay ?? DEFAULT_MAX_RECONNECT_MS,
    }, table, pool, diagnostics(options.log, { worker: options.name ?? `${hostname()}:${process.pid}` }));
  }

  /** Task names this worker offers. */
  get tasks(): string[] {
    return this.#table.names;
  }

  get inFlight(): number {
    return this.#runner.inFlight;
  }

  /** Resolves at the next successful join; rejects if the worker stops for good first. */
  joined(): Promise<void> {
    if (this.#connection?.isOpen && this.#heartbeat) return Promise.resolve();
    return new Promise((resolve, reject) => this.#joinWaiters.push((error) => (error ? reject(error) : resolve())));
  }

  /** Resolves when the worker has stopped (closed, drained, or refused by the scheduler's authkey). */
  get done(): Promise<void> {
    return this.#loop;
  }

  /** Takes nothing new, finishes what it holds, then closes. */
  async drain(): Promise<void> {
    if (this.#state !== 'running') return this.#loop.catch(() => {});
    this.#state = 'draining';
    this.#log(`draining: finishing ${this.#runner.inFlight} task(s), taking nothing new`);
    this.#send(ClusterFrame.DRAIN, {});
    await this.#runner.idle();
    await new Promise((resolve) => setImmediate(resolve)); // the last DONE leaves first
    await this.close();
  }

  /** Stops now: running tasks are cancelled (the scheduler runs them elsewhere). */
  async close(): Promise<void> {
    if (this.#state === 'closed') return this.#loop.catch(() => {});
    this.#state = 'closed';
    this.#flush();
    this.#connection?.close('the worker is shutting down');
    this.#wakeReconnect?.();
    await this.#runner.close();
    await this.#loop.catch(() => {});
  }

  /** A method, not a comparison, because the state changes across awaits. */
  get #closed(): boolean {
    return this.#state === 'closed';
  }

  // ---- connection ---------------------------------------------------------------------------

  async #connectLoop(): Promise<void> {
    let failures = 0;
    while (this.#state !== 'closed') {
      try {
        const connection = await dial(this.#options.connect, { authkey: this.#options.authkey });
        if (this.#closed) {
          connection.close('the worker is shutting down');
          break;
        }
        failures = 0;
        this.#retry.succeeded();
        await this.#session(connection);
      } catch (error) {
        if (error instanceof AuthenticationError) {
          this.#state = 'closed';
          this.#log(`cannot join ${this.#options.connect}: ${error.message}`, 'error');
          for (const wake of this.#joinWaiters.splice(0)) wake(error);
          await this.#runner.close();
          throw error;
        }
        if (this.#closed) break;
        failures++;
        this.#retry.failed(error as Error);
      }
      if (this.#closed || this.#state === 'draining' && this.#runner.inFlight === 0) break;
      const delay = Math.min(this.#options.maxReconnectDelay, FIRST_RECONNECT_MS * 2 ** Math.min(failures, 16)) * (0.5 + Math.random() / 2);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wakeReconnect = () => { clearTimeout(timer); resolve(); };
      });
      this.#wakeReconnect = undefined;
    }
    for (const wake of this.#joinWaiters.splice(0)) wake(new Error('the worker stopped before it joined'));
  }

  /** One connection's life: JOIN, then work until it closes. */
  #session(connection: Connection): Promise<void> {
    this.#connection = connection;
    this.#table.reset();
    const join: JoinMessage = {
      name: this.#options.name,
      host: hostname(),
      pid: process.pid,
      tasks: this.#table.names,
      anyModule: this.#options.anyModule,
      functions: this.#options.allowFunctions,
      capacity: this.#options.concurrency,
      pool: this.#options.pool,
    };
    connection.start((type, _id, body) => this.#receive(type, body));
    connection.send(this.#codec.encodeFrame(ClusterFrame.JOIN, 0, join));
    if (this.#state === 'draining') this.#send(ClusterFrame.DRAIN, {});
    return new Promise<void>((resolve) => {
      connection.onClose((error) => {
        if (this.#heartbeat) this.#heartbeat = void clearInterval(this.#heartbeat);
        this.#out = [];
        this.#connection = undefined;
        if (this.#state !== 'closed') {
          this.#log(`lost the scheduler (${error.message}); reconnecting`, 'warn');
          // The scheduler has put these back in its queue; their results could not be delivered.
          this.#runner.cancelAll('the worker lost its connection to the scheduler');
        }
        resolve();
      });
    });
  }

  #receive(type: number, body: Buffer): void {
    const value = this.#codec.decode(body);
    if (type === ClusterFrame.WORK) {
      if (!Array.isArray(value)) throw new ProtocolError('a WORK frame must carry an array of records');
      return this.#work(value);
    }
    if (type === ClusterFrame.WELCOME) return this.#welcome(value as WelcomeMessage);
    throw new ProtocolError(`unexpected frame type 0x${type.toString(16)} from the scheduler`);
  }

  #welcome(welcome: WelcomeMessage): void {
    const interval = Number.isFinite(welcome?.heartbeatInterval) && welcome.heartbeatInterval > 0 ? welcome.heartbeatInterval : 1000;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => this.#send(ClusterFrame.HEARTBEAT, {
      inFlight: this.#runner.inFlight,
      completed: this.#runner.completed,
      failed: this.#runner.failed,
    }), interval);
    this.#log(`joined ${this.#options.connect} as ${this.#options.name} (${this.#options.pool} x ${this.#options.concurrency}; tasks: ${this.#table.names.join(', ') || '*'})`);
    for (const wake of this.#joinWaiters.splice(0)) wake();
  }

  #work(records: unknown[]): void {
    let trace: string | undefined;
    for (let i = 0; i < records.length;) {
      const op = records[i];
      if (op === CALL || op === CHUNK) {
        if (this.#state === 'closed') return;
        const leaseId = records[i + 1] as number;
        const run = () => this.#runner.run(op, leaseId, records[i + 2] as number, String(records[i + 3]), Number(records[i + 4]), Number(records[i + 5]) || 0, records[i + 6] as unknown[]);
        if (trace === undefined) run();
        else this.#traced.begin(leaseId, this.#taskNames[records[i + 2] as number] ?? 'task', trace, { 'messaging.message.id': String(records[i + 3]), 'weft.task.attempt': Number(records[i + 4]) }, run);
        trace = undefined;
        i += CALL_WIDTH;
      } else if (op === TRACE) {
        trace = typeof records[i + 1] === 'string' ? records[i + 1] as string : undefined;
        i += TRACE_WIDTH;
      } else if (op === DEF) {
        this.#table.define(records[i + 1] as number, records[i + 2] as string, records[i + 3] as string, records[i + 4] as string, records[i + 5] as string | null);
        if (typeof records[i + 1] === 'number' && records[i + 1] as number < 1_000_000) this.#taskNames[records[i + 1] as number] = String(records[i + 2]);
        i += DEF_WIDTH;
      } else if (op === CANCEL) {
        this.#runner.cancel(records[i + 1] as number, String(records[i + 2]), String(records[i + 3]));
        i += CANCEL_WIDTH;
      } else {
        throw new ProtocolError(`unknown WORK record ${String(op)}`);
      }
    }
  }

  // ---- sending ------------------------------------------------------------------------------

  #send(type: number, value: unknown): void {
    if (this.#connection?.isOpen) this.#connection.send(this.#codec.encodeFrame(type, 0, value));
  }

  #emit(op: number, leaseId: number, value: unknown): void {
    if (!this.#connection?.isOpen) return;
    if (op === OK && (typeof value === 'function' || typeof value === 'symbol')) {
      op = ERR;
      value = new TypeError(`the task's result cannot be serialised: a ${typeof value} cannot be sent to the scheduler`);
    }
    if (op === OK || op === ERR) this.#traced.end(leaseId, op === ERR ? value ?? 'failed' : undefined);
    this.#out.push(op, leaseId, value);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushQueued = false;
    const out = this.#out;
    this.#out = [];
    if (out.length === 0 || !this.#connection?.isOpen) return;
    let frame: Buffer | undefined;
    try {
      frame = this.#codec.encodeFrame(ClusterFrame.DONE, 0, out);
    } catch {
      frame = undefined;
    }
    if (frame && this.#fits(frame)) this.#connection.send(frame);
    else this.#sendEach(out);
  }

  /** Whether the scheduler accepts a frame this big (it would drop the connection otherwise). */
  #fits(frame: Buffer): boolean {
    return frame.length - HEADER_SIZE <= this.#connection!.peerLimits.maxFrameSize;
  }

  /** Some value would not encode: send record by record, turning the bad ones into errors. */
  #sendEach(out: unknown[]): void {
    for (let i = 0; i < out.length; i += DONE_WIDTH) {
      const op = out[i] as number;
      const lease = out[i + 1];
      let problem: string;
      try {
        const frame = this.#codec.encodeFrame(ClusterFrame.DONE, 0, out.slice(i, i + DONE_WIDTH));
        if (this.#fits(frame)) {
          this.#connection!.send(frame);
          continue;
        }
        problem = `${frame.length - HEADER_SIZE} bytes exceed the scheduler's frame limit of ${this.#connection!.peerLimits.maxFrameSize}`;
      } catch (error) {
        problem = (error as Error).message;
      }
      if (op === PROGRESS) continue;
      const what = op === ERR ? 'error' : op === OK ? 'result' : 'yielded value';
      const failure = new TypeError(`the task's ${what} cannot be serialised: ${problem}`);
      this.#connection!.send(this.#codec.encodeFrame(ClusterFrame.DONE, 0, [ERR, lease, failure]));
    }
  }
}
