import { currentTaskContext } from '../core/context.js';
import { isPromiseLike } from '../core/invoke.js';
import { defineTasks, lookupTask, type TaskAddress } from '../core/task.js';
import { describe } from '../core/validate.js';
import { abortCheck, buildAsync, buildSync, drainAsync, drainSync } from './pipeline.js';
import { checkStageSpec, type StageSpec } from './spec.js';
import { createWriter, readInput, type Fn } from './writers.js';

/**
 * The one task every partition of every Bag runs, wherever the executor runs it:
 *
 *   runPartition(tasks, stage, input)
 *     tasks: the step tasks, by TaskAddress ─▶ found here (registered, else its module imported)
 *     stage: read ─▶ fused steps ─▶ write (spec.ts)
 *     input: the partition's items, or the buckets a shuffle brought it
 *
 * It is defined with `runsTasks`, so a worker that finds tasks by name (`weft worker --tasks`)
 * resolves `tasks` among its own modules before the call reaches its pool, and refuses a step it
 * does not offer: a Bag runs nothing that the worker would not run as a task of its own. Steps
 * run inside this task's context: `taskContext()` in a step gives the partition's signal,
 * attempt and progress.
 */
const MAX_TASKS = 1000;

/** Functions found, by address: a partition resolves each step once per worker. */
const found = new Map<string, Fn>();

function checkAddresses(tasks: unknown): TaskAddress[] {
  const ok = Array.isArray(tasks) && tasks.length <= MAX_TASKS &&
    tasks.every((a) => Array.isArray(a) && a.length === 3 && a.every((part) => typeof part === 'string'));
  if (!ok) throw new TypeError(`Expected the partition's tasks to be a list of [name, moduleUrl, key], got ${describe(tasks)}`);
  return tasks as TaskAddress[];
}

function resolve(address: TaskAddress): Fn | Promise<Fn> {
  const id = address.join('\n');
  const known = found.get(id);
  if (known) return known;
  // By module and key only, never by name alone: two modules may both define an `add`. A worker
  // that finds tasks by name has already turned the addresses into its own modules' (localize).
  const [name, moduleUrl, key] = address;
  const ref = lookupTask(moduleUrl, key);
  if (ref) {
    found.set(id, ref.fn);
    return ref.fn;
  }
  return import(moduleUrl).then(
    () => {
      const loaded = lookupTask(moduleUrl, key);
      if (!loaded) throw new TypeError(`module ${moduleUrl} does not define a task named ${key} through defineTasks() (a step of a Bag)`);
      found.set(id, loaded.fn);
      return loaded.fn;
    },
    (error: unknown) => {
      throw new TypeError(`the step ${name} of a Bag could not be loaded from ${moduleUrl}: ${(error as Error)?.message ?? error}`, { cause: error });
    },
  );
}

function resolveAll(addresses: TaskAddress[]): Fn[] | Promise<Fn[]> {
  const fns = addresses.map(resolve);
  return fns.some(isPromiseLike) ? Promise.all(fns) : fns as Fn[];
}

function runStage(fns: Fn[], names: string[], stage: StageSpec, input: unknown): unknown {
  const check = abortCheck(currentTaskContext()?.signal);
  const writer = createWriter(stage.write, fns, names);
  const values = readInput(stage.read, input, fns, names);
  if (stage.async) return drainAsync(values, buildAsync(stage.steps, fns, names, writer, check), check).then(() => writer.result());
  drainSync(values, buildSync(stage.steps, fns, names, writer, check), check);
  return writer.result();
}

export function runPartition(tasks: TaskAddress[], stage: StageSpec, input: unknown[]): unknown {
  const addresses = checkAddresses(tasks);
  const spec = checkStageSpec(stage, addresses.length);
  const names = addresses.map((a) => a[0]);
  const fns = resolveAll(addresses);
  return isPromiseLike(fns) ? fns.then((f) => runStage(f, names, spec, input)) : runStage(fns, names, spec, input);
}

export default defineTasks(import.meta.url, { runPartition }, { namespace: 'weft.collections', runsTasks: true });
