/**
 * What a broker worker tells `weft status --broker` and the dashboard about its tasks: the ones
 * it runs now (with their last progress) and the last attempts it finished (with their error).
 * Bounded: a worker answering a status request must not grow its answer with its uptime.
 */
import type { TaskMessage } from './messages.js';

/** A task a worker runs now. */
export interface RunningTask {
  id: string;
  task: string;
  attempt: number;
  /** When this attempt started here (epoch ms). */
  startedAt: number;
  /** The last value it reported with `taskContext().progress()`, if any. */
  progress?: unknown;
}

/** An attempt a worker finished. */
export interface FinishedTask {
  id: string;
  task: string;
  attempt: number;
  startedAt: number;
  finishedAt: number;
  ok: boolean;
  /** `Name: message` of the attempt's error (the error itself stays in the result store). */
  error?: string;
}

/** Finished attempts kept: enough for a screen of recent tasks, small enough for every status reply. */
const RECENT = 50;
/** Progress values longer than this (as JSON) are cut: a status reply carries every running task's. */
const MAX_PROGRESS_JSON = 200;

export class TaskLog {
  readonly #running = new Map<number, RunningTask>();
  readonly #recent: FinishedTask[] = [];

  started(lease: number, task: TaskMessage): void {
    this.#running.set(lease, { id: task.id, task: task.task, attempt: task.attempt, startedAt: Date.now() });
  }

  progress(lease: number, value: unknown): void {
    const entry = this.#running.get(lease);
    if (entry) entry.progress = small(value);
  }

  finished(lease: number, ok: boolean, error: unknown): void {
    const entry = this.#running.get(lease);
    if (!entry) return;
    this.#running.delete(lease);
    // Built field by field, without a spread of the entry: that spread showed in a worker's profile (~3% of its busy time on trivial tasks).
    const done: FinishedTask = { id: entry.id, task: entry.task, attempt: entry.attempt, startedAt: entry.startedAt, finishedAt: Date.now(), ok };
    if (!ok) done.error = errorText(error);
    this.#recent.push(done);
    if (this.#recent.length > RECENT) this.#recent.shift();
  }

  running(): RunningTask[] {
    return [...this.#running.values()].map((t) => ({ ...t }));
  }

  recent(): FinishedTask[] {
    return [...this.#recent];
  }
}

function small(value: unknown): unknown {
  try {
    const json = JSON.stringify(value);
    return json === undefined || json.length <= MAX_PROGRESS_JSON ? value : `${json.slice(0, MAX_PROGRESS_JSON)}…`;
  } catch {
    return String(value);
  }
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 1000);
  if (typeof error === 'object' && error !== null && 'message' in error) return String((error as { message: unknown }).message).slice(0, 1000);
  return String(error).slice(0, 1000);
}
