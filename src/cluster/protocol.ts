/**
 * The cluster's messages, carried as application frames (types 0x20–0x2f) of the remote
 * protocol's authenticated Connection, bodies in MessagePack (docs/protocol.md describes the
 * frame; this file is the cluster's layer on top of it).
 *
 *   worker ── JOIN {name, host, pid, tasks, anyModule, functions, capacity, pool} ──▶ scheduler
 *   worker ◀─ WELCOME {workerId, heartbeatInterval, leaseTimeout} ───────────────── scheduler
 *   worker ◀─ WORK   flat records: DEF | CALL | CHUNK | CANCEL | TRACE, many per frame ─ scheduler
 *   worker ── DONE   flat records: OK | ERR | YIELD | PROGRESS, many per frame ───▶ scheduler
 *   worker ── HEARTBEAT {inFlight, completed, failed} every heartbeatInterval ─────▶ scheduler
 *   worker ── DRAIN  (takes nothing new from now on) ──────────────────────────────▶ scheduler
 *   client ── STATUS {tasks?} ──▶ scheduler ── STATUS_REPLY {workers, stats, tasks?} ──▶ client
 *   client ── REVOKE {id} ──▶ scheduler (cancels that future) ── REVOKE_REPLY {revoked} ──▶ client
 *   client ── DRAIN_WORKER {worker} ──▶ scheduler (sends it nothing new) ── DRAIN_REPLY {drained} ──▶ client
 *
 * Records are flattened into one array per frame (no array per record): a batch of a thousand
 * small calls is one MessagePack array and one write. Every call carries a lease id chosen by
 * the scheduler; results name the lease, so a result for a lease the scheduler has revoked
 * (the worker was presumed lost) is recognised and dropped.
 */
import { ProtocolError } from '../core/errors.js';

export const ClusterFrame = {
  JOIN: 0x20,
  WELCOME: 0x21,
  WORK: 0x22,
  DONE: 0x23,
  HEARTBEAT: 0x24,
  DRAIN: 0x25,
  STATUS: 0x26,
  STATUS_REPLY: 0x27,
  REVOKE: 0x28,
  REVOKE_REPLY: 0x29,
  DRAIN_WORKER: 0x2a,
  DRAIN_REPLY: 0x2b,
} as const;

// WORK records (scheduler → worker) and their widths, op included.
/** [DEF, taskId, taskName, moduleUrl, key, source]: what a task id means on this connection. */
export const DEF = 1;
/** [CALL, leaseId, taskId, futureId, attempt, timeoutMs (0: none), args] */
export const CALL = 2;
/** [CHUNK, leaseId, taskId, futureId, attempt, timeoutMs, argLists]: map's chunk of calls. */
export const CHUNK = 3;
/** [CANCEL, leaseId, reasonName, reasonMessage] */
export const CANCEL = 4;
/** [TRACE, traceparent]: the next CALL/CHUNK's trace carrier; sent only while tracing. */
export const TRACE = 5;
export const DEF_WIDTH = 6;
export const TRACE_WIDTH = 2;
export const CALL_WIDTH = 7;
export const CANCEL_WIDTH = 4;

// DONE records (worker → scheduler), all [op, leaseId, value].
export const OK = 1;
export const ERR = 2;
export const YIELD = 3;
export const PROGRESS = 4;
export const DONE_WIDTH = 3;

export type PoolKind = 'threads' | 'processes' | 'green' | 'inline';
export const POOL_KINDS: readonly PoolKind[] = ['threads', 'processes', 'green', 'inline'];

export interface JoinMessage {
  /** A name for tables and logs; `host:pid` unless the worker was given one. */
  name: string;
  host: string;
  pid: number;
  /** Task names (`namespace.key`) this worker can run. */
  tasks: string[];
  /** Imports any task module by URL (workers the cluster started on its own host). */
  anyModule: boolean;
  /** Accepts plain functions shipped by source (opted in with --allow-functions). */
  functions: boolean;
  /** Tasks it runs at once. */
  capacity: number;
  pool: PoolKind;
}

export interface WelcomeMessage {
  workerId: number;
  heartbeatInterval: number;
  leaseTimeout: number;
}

export interface HeartbeatMessage {
  inFlight: number;
  completed: number;
  failed: number;
}

/** What `cluster.workers()` and `weft status` report for one worker. */
export interface WorkerInfo {
  id: number;
  name: string;
  host: string;
  pid: number;
  /** Task names it announced; `['*']` for a worker that imports any module by URL. */
  tasks: string[];
  pool: PoolKind;
  capacity: number;
  /** Tasks it holds now (running and prefetched). */
  inFlight: number;
  completed: number;
  failed: number;
  /** `ready`; `draining` (takes nothing new); `unresponsive` (its lease expired, its tasks were moved). */
  state: WorkerState;
  joinedAt: Date;
  lastHeartbeat: Date;
}

export type WorkerState = 'ready' | 'draining' | 'unresponsive';

/** What a STATUS request asks for beyond workers and counters. */
export interface StatusRequest {
  /** The running tasks and the recently finished ones (the dashboard's lists). */
  tasks?: boolean;
}

/** A task a worker holds now, or one that finished lately (newest first), as STATUS reports it. */
export interface TaskInfo {
  /** The future's id: what REVOKE names. */
  id: string;
  task: string;
  attempt: number;
  /** The worker's name. */
  worker: string;
  /** Epoch ms: when the scheduler sent it to the worker. */
  startedAt: number;
  finishedAt?: number;
  state: 'running' | 'done' | 'failed';
  /** The last progress the task reported. */
  progress?: unknown;
  /** `Name: message` of a failed attempt. */
  error?: string;
}

/** Checks a DRAIN_WORKER body: `{ worker: <the scheduler's worker id> }`. */
export function checkDrainWorker(value: unknown): number {
  const worker = (value as { worker?: unknown } | null)?.worker;
  if (!Number.isSafeInteger(worker) || (worker as number) < 1) throw new ProtocolError('a DRAIN_WORKER frame must carry { worker: a worker id (a positive integer) }');
  return worker as number;
}

/** Checks a REVOKE body: `{ id: string }`. */
export function checkRevoke(value: unknown): string {
  const id = (value as { id?: unknown } | null)?.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) throw new ProtocolError('a REVOKE frame must carry { id: string } (1 to 200 characters)');
  return id;
}

export interface StatusReply {
  workers: WorkerInfo[];
  queued: number;
  running: number;
  completed: number;
  failed: number;
  deadLetters: number;
  /** Present when the request asked for tasks (a scheduler of an earlier weft never sends it). */
  tasks?: { running: TaskInfo[]; recent: TaskInfo[] };
}

/** Checks the shape of a JOIN body: nothing from the network is trusted. */
export function checkJoin(value: unknown): JoinMessage {
  const bad = (what: string) => new TypeError(`a worker's JOIN message is malformed: ${what}`);
  if (typeof value !== 'object' || value === null || value instanceof Map) throw bad('expected an object');
  const m = value as Record<string, unknown>;
  if (typeof m.name !== 'string' || typeof m.host !== 'string') throw bad('name and host must be strings');
  if (!Number.isInteger(m.pid)) throw bad('pid must be an integer');
  if (!Array.isArray(m.tasks) || !m.tasks.every((t) => typeof t === 'string')) throw bad('tasks must be a list of names');
  if (!Number.isInteger(m.capacity) || (m.capacity as number) < 1 || (m.capacity as number) > 1_000_000) throw bad('capacity must be a positive integer');
  if (!POOL_KINDS.includes(m.pool as PoolKind)) throw bad(`pool must be one of ${POOL_KINDS.join(', ')}`);
  return {
    name: m.name.slice(0, 200),
    host: m.host.slice(0, 200),
    pid: m.pid as number,
    tasks: m.tasks as string[],
    anyModule: m.anyModule === true,
    functions: m.functions === true,
    capacity: m.capacity as number,
    pool: m.pool as PoolKind,
  };
}
