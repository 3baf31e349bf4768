import type { Job } from '../core/job.js';
import type { JoinMessage, WorkerInfo, WorkerState } from './protocol.js';

/**
 * The scheduler's record of one worker and of the leases it holds. Transport-free: how work
 * reaches the worker is its `link`, so the broker-backed mode can reuse the same records.
 */

/** How the scheduler reaches one worker. The TCP session implements it; a broker could too. */
export interface WorkerLink {
  /** Tells the worker what `taskId` means (sent once per worker and task). */
  define(taskId: number, def: TaskDef): void;
  /** Sends the lease's job to run. `timeout` is the attempt's time limit in ms (0: none). */
  run(lease: Lease, taskId: number, timeout: number): void;
  /** Asks the worker to abort the lease's task with `reason`. */
  cancel(leaseId: number, reason: Error): void;
  /** Drops the worker (its leases have been dealt with). */
  close(reason: string): void;
}

/** A task as the scheduler routes it: by name (module tasks) or as source (plain functions). */
export interface TaskDef {
  name: string;
  moduleUrl: string;
  key: string;
  /** Plain functions only: their source, for workers that opted in. */
  source: string | undefined;
}

/**
 * One dispatch of one attempt to one worker. Results name the lease; a result whose lease the
 * worker no longer holds (revoked when the worker was presumed lost) is dropped, so a task is
 * delivered once however many times it ran.
 */
export class Lease {
  constructor(
    readonly id: number,
    readonly job: Job,
    readonly attempt: number,
    readonly member: Member,
    /** The worker enforces the attempt's timeout itself (so the task's signal sees TimeoutError). */
    readonly timed: boolean,
  ) {}

  /** Epoch ms it was sent to the worker (the dashboard's running tasks). */
  readonly startedAt = Date.now();
  /** The last progress the task reported. */
  progress: unknown = undefined;
}

/** Work a worker should hold beyond what it runs: enough to hide a round trip, small enough to balance. */
const TARGET_HELD_MS = 10;
const MAX_MULTIPLIER = 512;
/**
 * Tasks shorter than this are double-buffered: each slot holds at least two, so a worker that
 * finishes one (or a whole slice of them) has the next at hand while its results travel and the
 * refill comes back. Longer ones are not: the round trip is lost in them, and one worker could
 * hoard work another will want.
 */
const LONG_TASK_MS = 50;
/** First guess until replies say how long tasks take: a window of 8 per slot. */
const INITIAL_MULTIPLIER = 8;

export class Member {
  readonly leases = new Map<number, Lease>();
  /** Task ids this worker has been sent a DEF for. */
  readonly known: boolean[] = [];
  readonly tasks: ReadonlySet<string>;
  state: WorkerState = 'ready';
  /** It asked for no new work; it stays so if it goes unresponsive and comes back. */
  draining = false;
  completed = 0;
  failed = 0;
  readonly joinedAt = Date.now();
  lastHeard = Date.now();
  /** Most leases it may hold: capacity × a multiplier sized from the observed task time. */
  window: number;
  /** Leases revoked when its lease expired; cancelled on the worker if it comes back. */
  revoked: number[] = [];
  #sampleFrom = 0;
  #taskMs = TARGET_HELD_MS / INITIAL_MULTIPLIER;

  constructor(readonly id: number, readonly join: JoinMessage, readonly link: WorkerLink) {
    this.tasks = new Set(join.tasks);
    this.window = join.capacity * INITIAL_MULTIPLIER;
  }

  get capacity(): number {
    return this.join.capacity;
  }

  get schedulable(): boolean {
    return this.state === 'ready';
  }

  /** Free room in its window; 0 when it takes nothing now. */
  get room(): number {
    return this.state === 'ready' ? Math.max(0, this.window - this.leases.size) : 0;
  }

  canRun(def: TaskDef): boolean {
    return def.source !== undefined ? this.join.functions : this.join.anyModule || this.tasks.has(def.name);
  }

  /** Called when a lease is added: an idle worker starts a new timing sample. */
  leased(now: number): void {
    if (this.leases.size === 1) this.#sampleFrom = now;
  }

  /**
   * `settled` leases ended in one batch. The gap since the previous batch, per settled task and
   * times the slots that ran them in parallel, samples one task's time; an exponential moving
   * average of it sizes the window.
   */
  settled(settled: number, now: number): void {
    if (settled === 0) return;
    const sample = ((now - this.#sampleFrom) / settled) * Math.min(this.capacity, settled + this.leases.size);
    this.#sampleFrom = now;
    this.#taskMs += (sample - this.#taskMs) / 8;
    const multiplier = Math.round(TARGET_HELD_MS / Math.max(this.#taskMs, 1e-4));
    this.window = this.capacity * Math.max(this.#taskMs < LONG_TASK_MS ? 2 : 1, Math.min(MAX_MULTIPLIER, multiplier));
  }

  info(): WorkerInfo {
    return {
      id: this.id,
      name: this.join.name,
      host: this.join.host,
      pid: this.join.pid,
      tasks: this.join.anyModule ? ['*', ...this.join.tasks] : [...this.join.tasks],
      pool: this.join.pool,
      capacity: this.capacity,
      inFlight: this.leases.size,
      completed: this.completed,
      failed: this.failed,
      state: this.state,
      joinedAt: new Date(this.joinedAt),
      lastHeartbeat: new Date(this.lastHeard),
    };
  }
}
