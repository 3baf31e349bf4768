/**
 * The embedded scheduler's list of tasks for the dashboard: what each worker holds now (read
 * from the leases when asked) and the last finished attempts (a ring kept by the scheduler).
 *
 *   scheduler.settle ── OK/ERR of a lease ──▶ finished(lease) ──▶ ring of the last RECENT_TASKS
 *   STATUS {tasks: true} ──▶ running(members) + recent() ──▶ STATUS_REPLY.tasks
 *
 * Nothing is kept until somebody first asks for tasks: a cluster nobody watches pays nothing
 * per task.
 */
import { RemoteError } from '../core/errors.js';
import { taskNameOf } from '../core/job.js';
import type { Lease, Member } from './membership.js';
import type { TaskInfo } from './protocol.js';

/** Finished attempts kept for the dashboard's "recent tasks". */
export const RECENT_TASKS = 50;

export class TaskBoard {
  #recording = false;
  readonly #recent: TaskInfo[] = [];
  /** Where the next finished attempt goes in the ring. */
  #next = 0;

  /** A lease's OK or ERR arrived (kept only once somebody has asked for tasks). */
  finished(lease: Lease, ok: boolean, value: unknown): void {
    if (!this.#recording) return;
    const info: TaskInfo = {
      ...describe(lease),
      finishedAt: Date.now(),
      state: ok ? 'done' : 'failed',
      ...(ok ? {} : { error: errorLine(value) }),
    };
    this.#recent[this.#next] = info;
    this.#next = (this.#next + 1) % RECENT_TASKS;
  }

  /** Running tasks and the recent ones, newest first; from now on finished ones are kept. */
  read(members: Iterable<Member>): { running: TaskInfo[]; recent: TaskInfo[] } {
    this.#recording = true;
    const running: TaskInfo[] = [];
    for (const member of members) for (const lease of member.leases.values()) running.push(describe(lease));
    const n = this.#recent.length;
    const recent: TaskInfo[] = [];
    for (let i = 1; i <= n; i++) recent.push(this.#recent[(this.#next - i + n) % n]!);
    return { running, recent };
  }
}

function describe(lease: Lease): TaskInfo {
  const job = lease.job;
  return {
    id: job.id,
    task: taskNameOf(job),
    attempt: lease.attempt,
    worker: lease.member.join.name,
    startedAt: lease.startedAt,
    state: 'running',
    ...(lease.progress === undefined ? {} : { progress: lease.progress }),
  };
}

/** `Name: message` (first line), named as the task threw it, not as it travelled (RemoteError). */
function errorLine(value: unknown): string {
  if (value instanceof Error) return `${value instanceof RemoteError ? value.remoteName : value.name}: ${value.message}`.split('\n')[0]!.slice(0, 500);
  return String(value).slice(0, 500);
}
