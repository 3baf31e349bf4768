import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidStateError } from './errors.js';

/** What a running task can ask about itself, on every executor. */
export interface TaskContext {
  /** The id of the future this run belongs to. */
  readonly id: string;
  /** 1 on the first run, 2 on the first retry, and so on. */
  readonly attempt: number;
  /** Aborts when the caller cancels the future or the task's timeout passes. */
  readonly signal: AbortSignal;
  /** Sends a value to the future's `onProgress` listeners. */
  progress(value: unknown): void;
}

// Shared by every copy of weft in this thread, for the same reason as the task registry.
const storage: AsyncLocalStorage<TaskContext> = ((globalThis as Record<symbol, unknown>)[Symbol.for('weft.taskContext')] ??=
  new AsyncLocalStorage<TaskContext>()) as AsyncLocalStorage<TaskContext>;

/** The context of the task running here; throws when called outside one. */
export function taskContext(): TaskContext {
  const context = storage.getStore();
  if (!context) throw new InvalidStateError('taskContext() was called outside a running task');
  return context;
}

/** The context of the task running here, or undefined. */
export function currentTaskContext(): TaskContext | undefined {
  return storage.getStore();
}

export function runWithContext<A extends unknown[], R>(context: TaskContext, fn: (...args: A) => R, ...args: A): R {
  return storage.run(context, fn, ...args);
}
