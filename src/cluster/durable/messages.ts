import { ProtocolError } from '../../core/errors.js';
import type { FinishedTask, RunningTask } from './task-log.js';

/**
 * What travels through the broker for the broker-backed cluster. Bodies are weft-encoded
 * (MessagePack, through the Broker client); nothing received is trusted: every body is checked
 * here before use, and one that does not fit is dead-lettered with the reason.
 *
 *   submitter ── TaskMessage, or a BatchMessage of several (queue, replyTo = its inbox) ─▶ worker
 *   submitter ◀─ Reply: RESULT | RESULTS | PROGRESS | YIELD | RETRYING (inbox) ───────── worker
 *   submitter ── Control: REVOKE | STATUS | DRAIN (topic, every worker) ─▶ worker
 *   status    ◀─ Reply: STATUS (the asker's inbox) ──────────────────────── worker
 *   result store ◀── StoredResult (first settle wins) ───────────────────── worker, or the
 *                                                         submitter that cancels (a 'cancelled' record)
 */

export const MESSAGE_VERSION = 1;
/** The topic every worker of every queue listens on for revocations and status requests. */
export const CONTROL_TOPIC = 'weft.control';
/** Where a queue's tasks go after their last failed attempt. */
export const deadLetterQueue = (queue: string): string => `${queue}.dead`;

export type TaskKind = 'call' | 'chunk' | 'items';

export interface TaskMessage {
  v: typeof MESSAGE_VERSION;
  id: string;
  /** `namespace.key`: workers find the task by this name. */
  task: string;
  /** Where the task is defined; only workers the submitter started on its host import it. */
  module: string;
  key: string;
  kind: TaskKind;
  /** call: the arguments; chunk: one argument list per call; items: one argument per call. */
  args: unknown[];
  /** This delivery's attempt, from 1. */
  attempt: number;
  retries: number;
  retryDelay: number;
  /** Milliseconds one attempt may run; 0: no limit. */
  timeout: number;
  /** A retry waits until this time (epoch ms) before it runs; 0: at once. */
  notBefore: number;
  /** When the submitter sent it (epoch ms). */
  submitted: number;
}

// Replies, worker → submitter inbox: [op, id, ...].
/** [RESULT, id, ok, value, attempts] */
export const RESULT = 1;
/** [PROGRESS, id, value] */
export const PROGRESS = 2;
/** [YIELD, id, value] */
export const YIELD = 3;
/** [RETRYING, id, attempt, error]: attempt failed and runs again later. */
export const RETRYING = 4;
/** [STATUS, info]: a worker's answer to a STATUS control message. */
export const STATUS = 5;
/** [RESULTS, [[id, ok, value, attempts], ...]]: several RESULTs in one reply (tasks that came in a BatchMessage). */
export const RESULTS = 6;

// Control messages, anyone → every worker: [op, ...].
/** [REVOKE, ids, reasonName, reasonMessage] */
export const REVOKE = 1;
/** [ASK_STATUS, inbox address] */
export const ASK_STATUS = 2;
/** [DRAIN, worker name]: that worker finishes what it holds, takes nothing new, then stops. */
export const DRAIN = 3;

/** A task's outcome as the result store keeps it: [ok, value or error, attempts, worker, finishedAt]. */
export type StoredResult = [ok: boolean, value: unknown, attempts: number, worker: string, finishedAt: number];

/** What a worker reports of itself to `weft status --broker`. */
export interface BrokerWorkerInfo {
  name: string;
  host: string;
  pid: number;
  pool: string;
  queues: string[];
  tasks: string[];
  capacity: number;
  /** Messages it holds per queue at most (running and waiting there); absent from workers before it was reported. */
  prefetch?: number;
  inFlight: number;
  completed: number;
  failed: number;
  /** Results dropped because another run of the same task stored first. */
  duplicates: number;
  startedAt: number;
  /** When it answered (its heartbeat, as far as status is concerned). */
  at: number;
  state: 'ready' | 'draining';
  /** The tasks it runs now (workers older than the dashboard do not say). */
  running?: RunningTask[];
  /** Its last finished attempts, oldest first. */
  recent?: FinishedTask[];
}

/** Held messages per slot (Celery's prefetch multiplier is 4 too): each task costs several round trips to the server (read, store, reply, ack), so a slot needs a few in hand to stay busy; more would hoard long tasks an idle worker could take (measured: 2 → 4 per slot cut CPU per task by a third). */
export const PREFETCH_PER_SLOT = 4;

const MAX_ID = 200;

/** Checks a task message; the error says what is wrong with it (it is dead-lettered with that). */
export function checkTaskMessage(body: unknown): TaskMessage {
  const bad = (what: string) => new ProtocolError(`not a weft task message: ${what}`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('expected an object');
  const m = body as Record<string, unknown>;
  if (m.v !== MESSAGE_VERSION) throw bad(`version ${String(m.v)}, this worker reads ${MESSAGE_VERSION}`);
  if (typeof m.id !== 'string' || m.id === '' || m.id.length > MAX_ID) throw bad('id must be a string of 1 to 200 characters');
  if (typeof m.task !== 'string' || m.task === '' || m.task.length > MAX_ID) throw bad('task must be a task name');
  if (typeof m.module !== 'string' || typeof m.key !== 'string') throw bad('module and key must be strings');
  if (m.kind !== 'call' && m.kind !== 'chunk' && m.kind !== 'items') throw bad('kind must be call, chunk or items');
  if (!Array.isArray(m.args)) throw bad('args must be an array');
  if (m.kind === 'chunk' && !m.args.every(Array.isArray)) throw bad('a chunk\'s args must be argument lists');
  for (const name of ['attempt', 'retries', 'retryDelay', 'timeout', 'notBefore', 'submitted'] as const) {
    const value = m[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw bad(`${name} must be a non-negative number`);
  }
  if ((m.attempt as number) < 1 || !Number.isInteger(m.attempt)) throw bad('attempt must be a positive integer');
  return m as unknown as TaskMessage;
}

/**
 * Several calls of one submitter to one queue in one broker message: the submits of one tick,
 * coalesced (broker-engine.ts). Each item is a task of its own (its id, retries, timeout, result,
 * revocation); the worker acknowledges the message once every item's outcome is stored. Items
 * are tuples, and task names are listed once, to keep the bytes per task down.
 */
export interface BatchMessage {
  v: typeof MESSAGE_VERSION;
  /** [name, module, key] of the tasks the items run, each listed once. */
  tasks: [name: string, module: string, key: string][];
  batch: BatchItem[];
  submitted: number;
}
/** One call of a batch: always kind 'call', attempt 1, at once (a retry is published alone). */
export type BatchItem = [id: string, task: number, args: unknown[], retries: number, retryDelay: number, timeout: number];

/** Tasks per BatchMessage at most: past this the per-message cost is a few µs a task, while a larger batch holds more work in one worker's hands. */
export const MAX_BATCH = 64;

export function isBatchMessage(body: unknown): boolean {
  return typeof body === 'object' && body !== null && Array.isArray((body as { batch?: unknown }).batch);
}

/** Checks a batch message and unpacks it into one TaskMessage per item (each checked as one). */
export function checkBatchMessage(body: unknown): TaskMessage[] {
  const bad = (what: string) => new ProtocolError(`not a weft batch message: ${what}`);
  const m = body as Record<string, unknown>;
  if (m.v !== MESSAGE_VERSION) throw bad(`version ${String(m.v)}, this worker reads ${MESSAGE_VERSION}`);
  const tasks = m.tasks;
  const items = m.batch as unknown[];
  if (!Array.isArray(tasks) || !tasks.every((t) => Array.isArray(t) && t.length === 3)) throw bad('tasks must be [name, module, key] triples');
  if (items.length === 0) throw bad('an empty batch');
  if (typeof m.submitted !== 'number') throw bad('submitted must be a number');
  return items.map((item, i) => {
    if (!Array.isArray(item) || item.length !== 6) throw bad(`item ${i} must be [id, task, args, retries, retryDelay, timeout]`);
    const [id, index, args, retries, retryDelay, timeout] = item as BatchItem;
    const task = Number.isInteger(index) ? (tasks as unknown[][])[index] : undefined;
    if (!task) throw bad(`item ${i} names task ${String(index)}, which the batch does not list`);
    try {
      return checkTaskMessage({
        v: MESSAGE_VERSION, id, task: task[0], module: task[1], key: task[2], kind: 'call', args,
        attempt: 1, retries, retryDelay, timeout, notBefore: 0, submitted: m.submitted,
      });
    } catch (error) {
      throw bad(`item ${i}: ${(error as Error).message}`);
    }
  });
}

/** A stored record, or undefined where it is not one (written by something else). */
export function readStoredResult(value: unknown): StoredResult | undefined {
  if (!Array.isArray(value) || value.length !== 5 || typeof value[0] !== 'boolean' || typeof value[2] !== 'number') return undefined;
  return value as StoredResult;
}

/** A dead letter as it waits in `<queue>.dead`: a task that failed for good, or a body that was not one. */
export interface DeadLetterRecord {
  v: typeof MESSAGE_VERSION;
  /** The task id; null for a body that was not a task message. */
  id: string | null;
  task: string | null;
  queue: string;
  args: unknown[] | null;
  attempts: number;
  /** The last attempt's error, or why the body was refused. */
  error: unknown;
  failedAt: number;
  worker: string;
  /** The task message itself (retry sends it again from attempt 1); null for a refused body. */
  message: TaskMessage | null;
  /** A refused body's bytes, as they came. */
  raw: Uint8Array | null;
  /** A body that decoded but was not a task message, as it decoded. */
  body?: unknown;
}

export function isDeadLetterRecord(value: unknown): value is DeadLetterRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return r.v === MESSAGE_VERSION && (r.id === null || typeof r.id === 'string') && typeof r.queue === 'string' && typeof r.failedAt === 'number';
}
