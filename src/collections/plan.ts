import { isTaskRef, taskAddress, type TaskAddress, type TaskRef } from '../core/task.js';
import { describe } from '../core/validate.js';
import { DEFAULT_PARTITIONS, type BagSource } from './source.js';
import type { ReadSpec, ShuffleKind, StageSpec, StepOp, WriteSpec } from './spec.js';

/**
 * A Bag's operations cut into stages. Narrow steps (map, filter, flatMap, mapPartitions) never
 * need another partition's values, so consecutive ones run in one task per partition; a shuffle
 * (reduceByKey, groupByKey, distinct) ends a stage: each partition combines its pairs by key and
 * cuts them into one bucket per reduce partition (by a hash of the key), and the next stage's
 * partition r gets bucket r of every partition before it. The action (collect, reduce, ...)
 * writes the last stage's results; the caller merges them.
 */
export type Op =
  | { kind: 'step'; op: StepOp; task: TaskRef; args: unknown[] }
  | { kind: 'shuffle'; shuffle: ShuffleKind; task?: TaskRef; partitions?: number };

export type Action =
  | { to: 'collect' }
  | { to: 'take'; count: number }
  | { to: 'count' }
  | { to: 'reduce'; task: TaskRef }
  | { to: 'fold'; task: TaskRef; zero: unknown }
  | { to: 'countByKey' }
  | { to: 'countByValue' };

export interface Stage {
  /** The tasks its steps and combiners run; spec fields index this list. */
  addresses: TaskAddress[];
  spec: StageSpec;
  /** How many partitions (tasks) it has; undefined while its input streams. */
  partitions: number | undefined;
  /** What explain() says about it. */
  steps: string[];
}

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor;

function isAsync(task: TaskRef): boolean {
  return task.fn instanceof AsyncFunction || task.fn instanceof AsyncGeneratorFunction;
}

/** A step's task: a TaskRef, since it runs wherever the executor runs it; else why not. */
export function checkStepTask(task: unknown, method: string): TaskRef {
  if (isTaskRef(task)) return task;
  const why = typeof task === 'function'
    ? `: ${method}() runs its step in worker threads, child processes and other hosts, which import a step by module and name; a closure or plain function cannot travel there. Define it with defineTasks(import.meta.url, { ... }) and pass the values it needs after it: ${method}(task, ...args)`
    : '';
  throw new TypeError(`Expected the ${method}() step to be a task from defineTasks(), got ${describe(task)}${why}`);
}

/** A combiner also runs once per value inside a Map update: it must be synchronous. */
export function checkCombiner(task: unknown, method: string): TaskRef {
  const ref = checkStepTask(task, method);
  if (isAsync(ref)) throw new TypeError(`Expected the ${method}() combiner ${ref.taskName} to be synchronous: it runs once per value while pairs are merged, got an async function`);
  return ref;
}

class StageBuilder {
  readonly addresses: TaskAddress[] = [];
  readonly #ids = new Map<string, number>();
  readonly steps: StageSpec['steps'] = [];
  readonly lines: string[] = [];
  async = false;

  constructor(readonly read: ReadSpec, readonly partitions: number | undefined) {}

  index(task: TaskRef): number {
    const address = taskAddress(task);
    const id = address.join('\n');
    let index = this.#ids.get(id);
    if (index === undefined) {
      index = this.addresses.push(address) - 1;
      this.#ids.set(id, index);
    }
    return index;
  }

  finish(write: WriteSpec, line: string): Stage {
    this.lines.push(line);
    return { addresses: this.addresses, spec: { read: this.read, steps: this.steps, write, async: this.async }, partitions: this.partitions, steps: this.lines };
  }
}

export function compile(source: BagSource, ops: readonly Op[], action: Action): Stage[] {
  const stages: Stage[] = [];
  let stage = new StageBuilder({ from: 'items' }, source.partitionCount);
  stage.lines.push('read its items');
  for (const op of ops) {
    if (op.kind === 'step') {
      stage.steps.push({ op: op.op, task: stage.index(op.task), args: op.args });
      stage.async ||= isAsync(op.task);
      stage.lines.push(`${op.op}(${[op.task.taskName, ...op.args.map(show)].join(', ')})`);
      continue;
    }
    const partitions = op.partitions ?? (stage.partitions === undefined ? DEFAULT_PARTITIONS : Math.max(1, stage.partitions));
    const task = op.task && stage.index(op.task);
    const what = op.shuffle === 'reduceByKey' ? `combine values by key with ${op.task!.taskName}` : op.shuffle === 'groupByKey' ? 'group values by key' : 'keep each value once';
    stages.push(stage.finish({ to: 'shuffle', kind: op.shuffle, partitions, ...(task === undefined ? {} : { task }) }, `${what}, then cut the pairs into ${partitions} buckets by a hash of the key`));
    const next = new StageBuilder(op.shuffle === 'reduceByKey' ? { from: 'reduceByKey', task: 0 } : { from: op.shuffle }, partitions);
    if (op.task) next.index(op.task);
    next.lines.push(op.shuffle === 'reduceByKey' ? `merge its buckets by key with ${op.task!.taskName}` : op.shuffle === 'groupByKey' ? 'merge its buckets\' groups by key' : 'merge its buckets\' values, each once');
    stage = next;
  }
  const [write, line] = finalWrite(stage, action);
  stages.push(stage.finish(write, line));
  return stages;
}

function finalWrite(stage: StageBuilder, action: Action): [WriteSpec, string] {
  switch (action.to) {
    case 'collect': return [action, 'return its values'];
    case 'take': return [action, `return its first ${action.count} values (stops reading there)`];
    case 'count': return [action, 'return how many values it has'];
    case 'reduce': return [{ to: 'reduce', task: stage.index(action.task) }, `reduce its values with ${action.task.taskName}`];
    case 'fold': return [{ to: 'fold', task: stage.index(action.task), zero: action.zero }, `fold its values into ${show(action.zero)} with ${action.task.taskName}`];
    case 'countByKey': return [action, 'count its pairs by key'];
    case 'countByValue': return [action, 'count its values by value'];
  }
}

/** What the caller does with the last stage's results, for explain(). */
export function mergeLine(action: Action): string {
  switch (action.to) {
    case 'collect': return 'concatenate the partitions\' values in partition order';
    case 'take': return `take partitions in order until ${action.count} values have come, then cancel the rest`;
    case 'count': return 'add up the counts';
    case 'reduce': return `reduce the partitions' results in partition order with ${action.task.taskName}`;
    case 'fold': return `fold the partitions' results into ${show(action.zero)} in partition order with ${action.task.taskName}`;
    case 'countByKey':
    case 'countByValue': return 'add up the counts by key into one Map';
  }
}

/** The plan as explain() prints it. */
export function explainPlan(source: BagSource, stages: Stage[], action: Action): string {
  const shuffles = stages.length - 1;
  const out = [`Bag plan: ${stages.length} stage${stages.length === 1 ? '' : 's'}, ${shuffles} shuffle${shuffles === 1 ? '' : 's'}; one task per partition and stage, its steps fused`];
  stages.forEach((stage, i) => {
    const count = stage.partitions === undefined ? 'one task per partition as they stream' : `${stage.partitions} task${stage.partitions === 1 ? '' : 's'}`;
    const input = i === 0 ? source.describe() : `${stage.partitions} partitions, each given one bucket from every partition of stage ${i}`;
    out.push(`stage ${i + 1}: ${input}; ${count}`);
    out.push(`  ${stage.steps.join(' -> ')}`);
  });
  out.push(`caller: ${mergeLine(action)}`);
  return out.join('\n');
}

function show(value: unknown): string {
  try {
    const text = JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
    if (text !== undefined) return text.length > 40 ? `${text.slice(0, 40)}…` : text;
  } catch {
    // a cycle, say: fall back to a description
  }
  return describe(value);
}
