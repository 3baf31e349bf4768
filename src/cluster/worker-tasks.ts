import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import partitionTasks from '../collections/partition-task.js';
import { isTaskRef, lookupTask, registeredTasks, type TaskAddress, type TaskRef } from '../core/task.js';
import { compileSource } from '../pools/source.js';

/**
 * What a worker can run. Tasks are found by name (`namespace.key`) among the modules given with
 * `--tasks`; a worker the cluster started on its own host (`anyModule`) also imports a task's
 * module by URL; plain functions arrive as source and compile only where the worker opted in.
 * Task ids are the scheduler's, per connection: `reset()` forgets them when it reconnects.
 * Every worker also offers weft's own task runners (a Bag's partition task): they run only the
 * tasks the worker offers itself (see `localize`).
 */
export type TaskEntry = TaskRef | ((...args: any[]) => unknown);
type Slot = TaskEntry | Promise<TaskEntry> | Error;

export interface TaskSources {
  anyModule: boolean;
  functions: boolean;
}

/**
 * Imports each task module (paths are relative to the working directory) and returns, by name,
 * the tasks they bring: those they define, those they export (one level into objects, as
 * defineTasks returns), and those first registered while they loaded. Tasks the program had
 * registered for itself (weft's own benchmark tasks, say) are not offered.
 */
export async function loadTaskModules(specifiers: readonly string[]): Promise<Map<string, TaskRef>> {
  const before = new Set(registeredTasks());
  const found: TaskRef[] = [];
  for (const spec of specifiers) {
    const url = toModuleUrl(spec);
    const namespace = await import(url) as Record<string, unknown>;
    for (const value of Object.values(namespace)) {
      if (isTaskRef(value)) found.push(value);
      else if (typeof value === 'object' && value !== null) for (const inner of Object.values(value)) if (isTaskRef(inner)) found.push(inner);
    }
    for (const ref of registeredTasks()) if (ref.moduleUrl === url || !before.has(ref)) found.push(ref);
  }
  const byName = new Map<string, TaskRef>();
  if (found.length > 0) found.push(...BUILT_IN);
  // The registry's own ref, without options: an exported `task.with({ retries })` must not
  // retry here too (the scheduler owns retries and timeouts).
  for (const ref of found) if (!byName.has(ref.taskName)) byName.set(ref.taskName, lookupTask(ref.moduleUrl, ref.key) ?? ref);
  return byName;
}

/** Tasks of weft itself that every worker offers: they run other tasks, by the worker's rules. */
const BUILT_IN: readonly TaskRef[] = [partitionTasks.runPartition];

export function toModuleUrl(spec: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec) && !/^[a-z]:[\\/]/i.test(spec)) return spec;
  return pathToFileURL(isAbsolute(spec) ? spec : resolve(spec)).href;
}

export class TaskTable {
  readonly #byName: Map<string, TaskRef>;
  readonly #sources: TaskSources;
  #slots: Slot[] = [];

  constructor(byName: Map<string, TaskRef>, sources: TaskSources) {
    this.#byName = byName;
    this.#sources = sources;
  }

  get names(): string[] {
    return [...this.#byName.keys()];
  }

  reset(): void {
    this.#slots = [];
  }

  define(taskId: number, name: string, moduleUrl: string, key: string, source: string | null): void {
    if (!Number.isInteger(taskId) || taskId < 0 || taskId > 1_000_000) return;
    const slot = this.#resolve(String(name), String(moduleUrl), String(key), source);
    const slots = this.#slots;
    slots[taskId] = slot;
    if (slot instanceof Promise) {
      slot.then((ref) => { slots[taskId] = ref; }, (error: Error) => { slots[taskId] = error; });
    }
  }

  /**
   * The task list of a task runner (`defineTasks(..., { runsTasks: true })`) as this worker
   * finds them: each by name among its modules (its own module URL then, so that its pool's
   * workers import that), else, on a worker that imports any module, as given; else why not.
   */
  localize(list: unknown): TaskAddress[] | Error {
    if (!Array.isArray(list) || !list.every((a) => Array.isArray(a) && a.length === 3 && a.every((part) => typeof part === 'string'))) {
      return new TypeError('Expected the first argument of a task runner to be a list of [name, moduleUrl, key]');
    }
    const out: TaskAddress[] = [];
    for (const [name, moduleUrl, key] of list as TaskAddress[]) {
      const known = this.#byName.get(name) ?? lookupTask(moduleUrl, key);
      if (known) out.push([known.taskName, known.moduleUrl, known.key]);
      else if (this.#sources.anyModule) out.push([name, moduleUrl, key]);
      else return new TypeError(`this worker has no task named ${name} (a step of a Bag); it offers ${this.names.join(', ') || 'none'}`);
    }
    return out;
  }

  /** The task, a promise of it while its module loads, or why it cannot run here. */
  get(taskId: number): Slot {
    return this.#slots[taskId] ?? new Error(`task id ${taskId} was never defined on this connection`);
  }

  #resolve(name: string, moduleUrl: string, key: string, source: string | null): Slot {
    if (typeof source === 'string') {
      if (!this.#sources.functions) return new TypeError(`this worker does not run plain functions (${name}); start it with --allow-functions`);
      try {
        return compileSource(source);
      } catch (error) {
        return error as Error;
      }
    }
    const known = this.#byName.get(name) ?? lookupTask(moduleUrl, key);
    if (known) return known;
    if (!this.#sources.anyModule) return new TypeError(`this worker has no task named ${name}; it offers ${this.names.join(', ') || 'none'}`);
    const loading = import(moduleUrl).then(() => {
      const ref = lookupTask(moduleUrl, key);
      if (!ref) throw new TypeError(`module ${moduleUrl} does not define a task named ${key} through defineTasks()`);
      return ref;
    });
    loading.catch(() => {});
    return loading;
  }
}
