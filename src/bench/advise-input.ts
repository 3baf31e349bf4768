/**
 * What `weft bench advise` is asked to time, checked before any timing: the flags, the task
 * module and its export, and a few calls of the task on the sample's arguments (the probe). Each
 * bad input is a BenchOptionError (one line and the usage, exit 2) that says what was wrong; the probe's result also
 * gives the sizes of what a call sends and gets back.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { serialize } from 'node:v8';
import { BenchOptionError } from './bench-options.js';
import { toModuleUrl } from '../cluster/worker-tasks.js';
import { isTaskRef, type TaskRef } from '../core/task.js';
import type { BenchArgs } from './registry.js';

export const ADVISE_DEFAULTS = {
  /** Most calls timed per executor. */
  items: 2000,
  /** Seconds after which an executor's sample starts no more calls (~2 s: four executors in ~10 s). */
  seconds: 2,
  /** GreenPool size: the articles' IO test runs 500 fetches at once. */
  concurrency: 500,
};

/** How long a probe call may take before the advice gives up on the task. */
const PROBE_TIMEOUT_MS = 30_000;
/** Probe calls at most, and the time after which no further one starts (the first always runs). */
const PROBE_CALLS = 5;
const PROBE_REPEAT_SECONDS = 0.05;

export interface AdviseOptions {
  /** `--task` as given, for the report. */
  spec: string;
  task: TaskRef;
  args: unknown[];
  items: number;
  seconds: number;
  workers: number;
  concurrency: number;
}

export interface Probe {
  /** Wall seconds of the fastest probe call (the first is cold: an upper bound for the next ones). */
  seconds: number;
  /** Serialised bytes of one call's arguments and result (V8's format, what postMessage copies). */
  bytesIn: number;
  bytesOut?: number;
  /** Why the result could not be serialised (then no pool can return it). */
  resultProblem?: string;
}

/** `weft bench` turns it into a usage error (one line and the usage, exit 2). */
function usage(message: string): BenchOptionError {
  return new BenchOptionError(message);
}

function positiveInteger(args: BenchArgs, name: string, fallback: number): number {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isInteger(value) || value <= 0) throw usage(`--${name} expects a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

function positiveNumber(args: BenchArgs, name: string, fallback: number): number {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value) || value <= 0) throw usage(`--${name} expects a positive number of seconds, got ${JSON.stringify(raw)}`);
  return value;
}

/** `--args`: a JSON array, one call's arguments. */
export function parseCallArgs(raw: string | boolean | undefined): unknown[] {
  if (raw === undefined) return [];
  if (typeof raw !== 'string') throw usage('--args expects a JSON array of arguments, e.g. --args \'[20000]\'');
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw usage(`--args is not JSON (${(error as Error).message}): ${raw}`);
  }
  if (!Array.isArray(value)) throw usage(`--args expects a JSON array of one call's arguments, got ${JSON.stringify(value)} (write [${raw}] for a single argument)`);
  return value;
}

/** Splits `FILE#NAME` at its last `#` (a path may hold one; a task name does not). */
export function splitTaskSpec(spec: string): { file: string; name: string | undefined } {
  const at = spec.lastIndexOf('#');
  return at === -1 ? { file: spec, name: undefined } : { file: spec.slice(0, at), name: spec.slice(at + 1) || undefined };
}

/** Every task a module namespace offers, under each name it can be asked for. */
function tasksOf(namespace: Record<string, unknown>): Map<string, TaskRef> {
  const byName = new Map<string, TaskRef>();
  const add = (name: string, ref: TaskRef) => {
    if (!byName.has(name)) byName.set(name, ref);
  };
  for (const [exported, value] of Object.entries(namespace)) {
    if (isTaskRef(value)) {
      add(exported === 'default' ? value.key : exported, value);
      add(value.taskName, value);
    } else if (typeof value === 'object' && value !== null) {
      for (const inner of Object.values(value)) {
        if (!isTaskRef(inner)) continue;
        add(inner.key, inner);
        add(inner.taskName, inner);
      }
    }
  }
  return byName;
}

/** Imports the module of `--task` and finds the task in it; the error lists what it has. */
export async function loadTask(spec: string): Promise<TaskRef> {
  const { file, name } = splitTaskSpec(spec);
  if (file === '') throw usage(`--task expects FILE#NAME, got ${JSON.stringify(spec)}`);
  const isUrl = /^[a-z][a-z0-9+.-]*:/i.test(file) && !/^[a-z]:[\\/]/i.test(file);
  if (!isUrl && !existsSync(resolve(file))) throw usage(`--task: no such file ${file} (resolved to ${resolve(file)})`);
  let namespace: Record<string, unknown>;
  try {
    namespace = await import(toModuleUrl(file)) as Record<string, unknown>;
  } catch (error) {
    // Workers import the module too, so it must be JavaScript that Node loads as it is.
    const hint = /\.[cm]?tsx?$/.test(file) ? ' (compile it to JavaScript first: worker threads and processes import it too)' : '';
    throw usage(`--task: ${file} could not be imported: ${oneLine(error)}${hint}`);
  }
  const tasks = tasksOf(namespace);
  if (tasks.size === 0) {
    throw usage(`--task: ${file} exports no tasks (define them with defineTasks(import.meta.url, { ... }) and export the result); its exports: ${Object.keys(namespace).join(', ') || 'none'}`);
  }
  const names = [...new Set([...tasks.values()].map((ref) => ref.key))];
  if (name === undefined) {
    if (names.length === 1) return tasks.get(names[0]!)!;
    throw usage(`--task: name the task as ${file}#NAME; ${file} has ${names.join(', ')}`);
  }
  const found = tasks.get(name);
  if (!found) throw usage(`--task: ${file} has no task ${JSON.stringify(name)}; it has ${names.join(', ')}`);
  return found;
}

/** The flags, the task and its arguments; a BenchOptionError for the first thing wrong. */
export async function readAdviseOptions(args: BenchArgs): Promise<AdviseOptions> {
  const spec = args.task;
  if (spec === undefined || spec === true || spec === '') throw usage('--task FILE#NAME is required (a module exporting defineTasks(...) tasks, and the task to time)');
  if (typeof spec !== 'string') throw usage('--task expects FILE#NAME');
  // Cheap checks first: a bad number must not wait for the module to load.
  const callArgs = parseCallArgs(args.args);
  const items = positiveInteger(args, 'items', ADVISE_DEFAULTS.items);
  const seconds = positiveNumber(args, 'seconds', ADVISE_DEFAULTS.seconds);
  const workers = positiveInteger(args, 'workers', availableParallelism());
  const concurrency = positiveInteger(args, 'concurrency', ADVISE_DEFAULTS.concurrency);
  const task = await loadTask(spec);
  return { spec, task, args: callArgs, items, seconds, workers, concurrency };
}

/**
 * One call of the task in this thread, untimed: a task that throws (or never settles) on these
 * arguments is bad input, reported before any executor starts. Also warms the JIT for the
 * inline sample and measures what a call sends and gets back.
 */
export async function probeTask(options: AdviseOptions): Promise<Probe> {
  const { task, args, spec } = options;
  let result: unknown;
  let seconds = Infinity;
  // The first call is cold (JIT, lazy imports); a few more, within PROBE_REPEAT_SECONDS, give
  // a closer time per call for sizing the inline window. Any of them failing is bad input.
  const probeStart = performance.now();
  for (let call = 0; call < PROBE_CALLS && (call === 0 || performance.now() - probeStart < PROBE_REPEAT_SECONDS * 1000); call++) {
    const start = performance.now();
    try {
      result = await withTimeout(() => task.fn(...args));
    } catch (error) {
      throw usage(`--task ${spec} failed on --args ${JSON.stringify(args)}: ${oneLine(error)}`);
    }
    seconds = Math.min(seconds, (performance.now() - start) / 1000);
  }
  let bytesIn: number;
  try {
    bytesIn = serialize(args).length;
  } catch (error) {
    throw usage(`--args cannot be sent to a worker: ${oneLine(error)}`);
  }
  try {
    return { seconds, bytesIn, bytesOut: serialize(result).length };
  } catch (error) {
    return { seconds, bytesIn, resultProblem: oneLine(error) };
  }
}

/** The call's result, or an error when it has not settled within PROBE_TIMEOUT_MS. */
async function withTimeout(call: () => unknown): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish one call in ${PROBE_TIMEOUT_MS / 1000} s`)), PROBE_TIMEOUT_MS);
    timer.unref();
  });
  try {
    return await Promise.race([Promise.resolve().then(call), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.split('\n').join(' ');
}
