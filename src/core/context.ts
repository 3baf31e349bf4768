import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
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

/**
 * The context of a task running synchronously right now, for executors that skip async context
 * propagation (GreenPool's `asyncContext: false`). Checked before the AsyncLocalStorage store,
 * since it is only ever set while such a task's synchronous part runs.
 */
const syncSlot: { current: TaskContext | undefined } = ((globalThis as Record<symbol, unknown>)[Symbol.for('weft.syncTaskContext')] ??=
  { current: undefined }) as { current: TaskContext | undefined };

/** The context of the task running here; throws when called outside one. */
export function taskContext(): TaskContext {
  const context = syncSlot.current ?? storage.getStore();
  if (!context) throw new InvalidStateError('taskContext() was called outside a running task');
  return context;
}

/** The context of the task running here, or undefined. */
export function currentTaskContext(): TaskContext | undefined {
  return syncSlot.current ?? storage.getStore();
}

/** The AsyncLocalStorage store alone (not the synchronous slot): the context this async run carries. */
export function asyncTaskContext(): TaskContext | undefined {
  return storage.getStore();
}

export function runWithContext<A extends unknown[], R>(context: TaskContext, fn: (...args: A) => R, ...args: A): R {
  return storage.run(context, fn, ...args);
}

/** Like runWithContext, for the synchronous part only: continuations after an await do not see it. */
export function runWithSyncContext<A extends unknown[], R>(context: TaskContext, fn: (...args: A) => R, ...args: A): R {
  const previous = syncSlot.current;
  syncSlot.current = context;
  try {
    return fn(...args);
  } finally {
    syncSlot.current = previous;
  }
}

/**
 * Makes `context` the current one for the rest of this synchronous run and everything it
 * schedules (AsyncLocalStorage.enterWith): on Node 24, whose AsyncLocalStorage keeps a context
 * frame (a Map) per run, one frame where run() makes two (one to enter, one to restore). Call it
 * inside a ContextScope, which restores the outer context exactly on return.
 */
export function enterContext(context: TaskContext): void {
  storage.enterWith(context);
}

/**
 * A scope (an AsyncResource) that runs code in the async context current when it was made and
 * returns to the caller's context, the very same one, when that code returns.
 */
export class ContextScope extends AsyncResource {
  constructor() {
    super('weft.TaskRound');
  }
}
