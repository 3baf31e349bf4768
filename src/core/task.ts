import { runWithContext, type TaskContext } from './context.js';
import { checkFiniteNumber, checkMilliseconds, checkNonNegativeInteger, checkSignal, expected } from './validate.js';

/**
 * Tasks are functions defined in a module that every kind of worker can import. A TaskRef
 * carries the function, where it lives (module URL + name) and its default options; it can be
 * called directly (the function runs inline) or handed to any executor.
 */

export interface TaskOptions {
  /** Milliseconds one attempt may run before it fails with TimeoutError and its signal aborts. */
  timeout?: number;
  /** How many times a failed attempt is run again. @default 0 */
  retries?: number;
  /** Milliseconds before the first retry; doubles each retry, with jitter. @default 100 */
  retryDelay?: number;
  /** Higher runs first among queued tasks; equal priorities keep submission order. @default 0 */
  priority?: number;
  /** Cancels the future when it aborts. */
  signal?: AbortSignal;
  /**
   * The broker queue a broker-backed ClusterExecutor sends this task to (workers take it with
   * `--queues`); other executors ignore it. @default the cluster's route for the namespace, else its `queue`
   */
  queue?: string;
}

declare const taskTypes: unique symbol;
const TASK_BRAND = Symbol.for('weft.task');

export interface TaskRef<A extends unknown[] = any[], R = unknown, Y = unknown> {
  /** The name workers find it by: `namespace.key`, or `key`. */
  readonly taskName: string;
  /** The module that defines it; workers on this machine import this URL. */
  readonly moduleUrl: string;
  /** Its key in the object given to defineTasks. */
  readonly key: string;
  readonly options: Readonly<TaskOptions>;
  readonly fn: (...args: A) => unknown;
  /** A copy with these options merged over the current ones. */
  with(options: TaskOptions): this;
  /** Type-level only: what a run returns and yields. */
  readonly [taskTypes]?: { result: R; yields: Y };
}

type GeneratorLike<Y, R> = Generator<Y, R, any> | AsyncGenerator<Y, R, any>;

/** What a future of this function resolves to: promises unwrapped, a generator's return value. */
export type ResultOf<F extends (...args: any[]) => unknown> =
  ReturnType<F> extends GeneratorLike<any, infer R> ? R : Awaited<ReturnType<F>>;
/** What a generator function yields; `never` for other functions. */
export type YieldOf<F extends (...args: any[]) => unknown> =
  ReturnType<F> extends GeneratorLike<infer Y, any> ? Y : never;

/** A TaskRef that is also callable as the original function. */
export type TaskRefOf<F extends (...args: any[]) => unknown> = F & TaskRef<Parameters<F>, ResultOf<F>, YieldOf<F>>;

/** Anything an executor accepts: a TaskRef or a plain function. */
export type AnyTask = TaskRef<any, any, any> | ((...args: any[]) => unknown);
export type TaskArgs<T> = T extends TaskRef<infer A, any, any> ? A : T extends (...args: infer A) => unknown ? A : never;
export type TaskResult<T> = T extends TaskRef<any, infer R, any> ? R : T extends (...args: any[]) => unknown ? ResultOf<T> : never;
export type TaskYield<T> = T extends TaskRef<any, any, infer Y> ? Y : T extends (...args: any[]) => unknown ? YieldOf<T> : never;

export type TaskFunctions = Record<string, (...args: any[]) => unknown>;
export type DefinedTasks<M extends TaskFunctions> = { readonly [K in keyof M]: TaskRefOf<M[K]> };

export interface DefineTasksOptions {
  /** Prefix for the names remote workers know these tasks by (`namespace.key`). */
  namespace?: string;
  /**
   * These tasks run other tasks: the first argument of each is a list of TaskAddress (from
   * `taskAddress(ref)`). A worker that finds tasks by name (`weft worker --tasks`) resolves each
   * address among its own task modules before the call runs, and refuses a task it does not
   * offer, so that such a task can run nothing the worker would not run itself. @default false
   */
  runsTasks?: boolean;
}

/**
 * Where a worker finds a task: the name remote workers know it by, the module that defines it
 * and its key there. Plain data, so it travels in a task's arguments.
 */
export type TaskAddress = readonly [name: string, moduleUrl: string, key: string];

// One registry per thread, shared by every copy of weft loaded in it: a worker's copy (from
// dist/) must see tasks that a task module registered through another copy (for example build/).
const registry: Map<string, TaskRef> = ((globalThis as Record<symbol, unknown>)[Symbol.for('weft.taskRegistry')] ??= new Map()) as Map<string, TaskRef>;
/** Registry keys of the tasks defined with `runsTasks`. */
const taskRunners: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('weft.taskRunners')] ??= new Set()) as Set<string>;

/**
 * Defines the tasks of a module. Pass `import.meta.url` so that workers can import it.
 * @example export default defineTasks(import.meta.url, { square: (x: number) => x * x });
 */
export function defineTasks<M extends TaskFunctions>(moduleUrl: string, functions: M, options: DefineTasksOptions = {}): DefinedTasks<M> {
  if (typeof moduleUrl !== 'string' || !/^[a-z][a-z0-9+.-]*:/i.test(moduleUrl)) {
    throw new TypeError(expected('moduleUrl', 'a module URL such as import.meta.url', moduleUrl));
  }
  if (typeof functions !== 'object' || functions === null) {
    throw new TypeError(expected('functions', 'an object of functions', functions));
  }
  const { namespace, runsTasks = false } = options;
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace === '')) {
    throw new TypeError(expected('namespace', 'a non-empty string', namespace));
  }
  if (typeof runsTasks !== 'boolean') throw new TypeError(expected('runsTasks', 'a boolean', runsTasks));
  const out: Record<string, TaskRef> = {};
  for (const [key, fn] of Object.entries(functions)) {
    if (typeof fn !== 'function') throw new TypeError(expected(`functions.${key}`, 'a function', fn));
    const ref = makeTaskRef(fn, moduleUrl, key, namespace ? `${namespace}.${key}` : key, {});
    registry.set(registryKey(moduleUrl, key), ref);
    if (runsTasks) taskRunners.add(registryKey(moduleUrl, key));
    out[key] = ref;
  }
  return Object.freeze(out) as DefinedTasks<M>;
}

/** The task a module defined under `key`, once that module has been imported here. */
export function lookupTask(moduleUrl: string, key: string): TaskRef | undefined {
  return registry.get(registryKey(moduleUrl, key));
}

/** Where workers find `ref` (see TaskAddress). */
export function taskAddress(ref: TaskRef): TaskAddress {
  return [ref.taskName, ref.moduleUrl, ref.key];
}

/** Whether `ref` was defined with `runsTasks`: its first argument lists the tasks it runs. */
export function isTaskRunner(ref: TaskRef): boolean {
  return taskRunners.has(registryKey(ref.moduleUrl, ref.key));
}

/** Every task defined in this process, for workers that find tasks by name. */
export function registeredTasks(): IterableIterator<TaskRef> {
  return registry.values();
}

export function isTaskRef(value: unknown): value is TaskRef {
  return typeof value === 'function' && (value as unknown as Record<symbol, unknown>)[TASK_BRAND] === true;
}

export function checkTaskOptions(options: unknown): TaskOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
  const o = options as TaskOptions;
  if (o.timeout !== undefined) checkMilliseconds('timeout', o.timeout);
  if (o.retries !== undefined) checkNonNegativeInteger('retries', o.retries);
  if (o.retryDelay !== undefined) checkMilliseconds('retryDelay', o.retryDelay);
  if (o.priority !== undefined) checkFiniteNumber('priority', o.priority);
  if (o.signal !== undefined) checkSignal('signal', o.signal);
  if (o.queue !== undefined && (typeof o.queue !== 'string' || o.queue === '' || o.queue.length > 200)) {
    throw new TypeError(expected('queue', 'a queue name of 1 to 200 characters', o.queue));
  }
  return o;
}

function registryKey(moduleUrl: string, key: string): string {
  return `${moduleUrl}#${key}`;
}

let directRuns = 0;
const neverAborted = new AbortController().signal;

function makeTaskRef(fn: (...args: any[]) => unknown, moduleUrl: string, key: string, taskName: string, options: TaskOptions): TaskRef {
  // Called directly, the function runs here with a context whose signal never aborts, so that
  // task code using taskContext() works the same when it is simply called.
  const ref = function (this: unknown, ...args: unknown[]) {
    const context: TaskContext = { id: `direct-${++directRuns}`, attempt: 1, signal: neverAborted, progress() {} };
    return runWithContext(context, () => fn.apply(this, args));
  };
  Object.defineProperty(ref, 'name', { value: key });
  Object.defineProperties(ref, {
    [TASK_BRAND]: { value: true },
    taskName: { value: taskName, enumerable: true },
    moduleUrl: { value: moduleUrl, enumerable: true },
    key: { value: key, enumerable: true },
    options: { value: Object.freeze({ ...options }), enumerable: true },
    fn: { value: fn },
    with: {
      value(more: TaskOptions) {
        checkTaskOptions(more);
        return makeTaskRef(fn, moduleUrl, key, taskName, { ...options, ...more });
      },
    },
  });
  return ref as unknown as TaskRef;
}

/** A plain function or TaskRef, or a TypeError saying what came instead. */
export function checkTask(task: unknown): TaskRef | ((...args: unknown[]) => unknown) {
  if (typeof task !== 'function') {
    throw new TypeError(expected('task', 'a task from defineTasks() or a function', task));
  }
  return task as unknown as TaskRef;
}
