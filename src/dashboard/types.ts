/**
 * What the dashboard shows, as plain JSON (the page receives it over server-sent events), and
 * the one interface every data source implements: the broker-backed cluster's (read from the
 * broker), the embedded scheduler's (read over its STATUS frame, or from a ClusterExecutor in
 * this process).
 */

import type { TaskInfo } from '../cluster/protocol.js';

export interface WorkerRow {
  /** What an action names the worker by: the broker worker's name, the scheduler's worker id. */
  key: string;
  name: string;
  host: string;
  pid: number;
  pool: string;
  capacity: number;
  inFlight: number;
  completed: number;
  failed: number;
  state: string;
  /** Epoch ms of its last heartbeat (broker: of its status answer). */
  lastHeartbeat: number;
  queues: string[];
}

export interface QueueRow {
  queue: string;
  waiting: number;
  /** Held by workers; undefined where the server does not count it. */
  running: number | undefined;
  dead: number;
  consumers: number | undefined;
}

/** A running or recently finished task: the embedded scheduler's STATUS shape, which the broker source fills too. */
export type TaskRow = TaskInfo;

export interface DeadLetterRow {
  /** null: a body that was not a task message (it cannot be retried). */
  id: string | null;
  task: string | null;
  queue: string;
  attempts: number;
  error: string;
  failedAt: number;
  worker: string;
}

/** One point of the rate charts: tasks finished and failed per second over the interval ending at `t`. */
export interface RatePoint {
  t: number;
  completed: number;
  failed: number;
}

/** For each action: true where the source can do it, else the reason it cannot (shown instead of a button). */
export interface Capabilities {
  retry: true | string;
  revoke: true | string;
  drain: true | string;
  /** Why running and recent tasks are not listed, where they are not. */
  tasks: true | string;
}

export interface Snapshot {
  source: string;
  at: number;
  workers: WorkerRow[];
  queues: QueueRow[];
  totals: { queued: number; running: number; completed: number; failed: number; dead: number };
  running: TaskRow[];
  recent: TaskRow[];
  deadLetters: DeadLetterRow[];
  rates: RatePoint[];
  capabilities: Capabilities;
  /** Why the last read failed, if it did (the page keeps showing the previous figures). */
  error?: string;
}

/** A source reads the figures; the monitor above it polls, keeps the rate history and serves it. */
export interface DashboardSource {
  /** Shown in the page's title bar: `redis://127.0.0.1:6379 (queues weft)`, `tcp://…`. */
  readonly label: string;
  readonly capabilities: Capabilities;
  read(): Promise<Omit<Snapshot, 'source' | 'at' | 'rates' | 'capabilities' | 'error'>>;
  retry(id: string, queue: string | undefined): Promise<boolean>;
  revoke(id: string): Promise<boolean>;
  drain(worker: string): Promise<boolean>;
  close(): Promise<void>;
}

/** An action the source cannot do, or a target it does not know: the server answers 409 or 404 with this text. */
export class DashboardActionError extends Error {
  override name = 'DashboardActionError';
  constructor(message: string, readonly status: 404 | 409) {
    super(message);
  }
}
