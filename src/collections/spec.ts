import { expected } from '../core/validate.js';

/**
 * What one partition task is asked to do: plain data, the second argument of the partition task
 * (the first is the list of the tasks it runs, by TaskAddress; `task` fields index that list).
 *
 *   read (its input) ─▶ steps, fused: each value goes through all of them before the next one
 *                       is read ─▶ write (what the task returns)
 *
 * A stage that reads a shuffle gets one bucket from every partition of the stage before it:
 * flat lists `[key, value, key, value, ...]` (`distinct`: `[key, key, ...]`), one allocation per
 * bucket rather than one per pair.
 */
export type ReadSpec =
  | { from: 'items' }
  | { from: 'reduceByKey'; task: number }
  | { from: 'groupByKey' }
  | { from: 'distinct' };

export type StepOp = 'map' | 'filter' | 'flatMap' | 'mapPartitions';

export interface StepSpec {
  op: StepOp;
  task: number;
  /** Arguments after the value (after the partition's items for mapPartitions). */
  args: unknown[];
}

export type ShuffleKind = 'reduceByKey' | 'groupByKey' | 'distinct';

export type WriteSpec =
  | { to: 'collect' }
  | { to: 'take'; count: number }
  | { to: 'count' }
  | { to: 'reduce'; task: number }
  | { to: 'fold'; task: number; zero: unknown }
  | { to: 'countByKey' }
  | { to: 'countByValue' }
  | { to: 'shuffle'; kind: ShuffleKind; partitions: number; task?: number };

export interface StageSpec {
  read: ReadSpec;
  steps: StepSpec[];
  write: WriteSpec;
  /** Some step is an async function: the partition awaits each value through the steps. */
  async: boolean;
}

const READS = new Set(['items', 'reduceByKey', 'groupByKey', 'distinct']);
const OPS = new Set<string>(['map', 'filter', 'flatMap', 'mapPartitions']);
const WRITES = new Set(['collect', 'take', 'count', 'reduce', 'fold', 'countByKey', 'countByValue', 'shuffle']);
const KINDS = new Set(['reduceByKey', 'groupByKey', 'distinct']);
/** Most reduce partitions a shuffle may write: each is one list per map task. */
export const MAX_SHUFFLE_PARTITIONS = 100_000;

/** A spec that came over the wire, checked before anything runs (`tasks`: how many were named). */
export function checkStageSpec(spec: unknown, tasks: number): StageSpec {
  const fail = (what: string, value: unknown): never => {
    throw new TypeError(expected(`partition spec ${what}`, 'a stage spec made by a Bag', value));
  };
  if (typeof spec !== 'object' || spec === null) return fail('', spec);
  const s = spec as StageSpec;
  const taskIndex = (what: string, value: unknown) => {
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) >= tasks) fail(what, value);
  };
  if (typeof s.read !== 'object' || s.read === null || !READS.has(s.read.from)) fail('read', s.read);
  if (s.read.from === 'reduceByKey') taskIndex('read.task', s.read.task);
  if (!Array.isArray(s.steps)) fail('steps', s.steps);
  for (const step of s.steps) {
    if (typeof step !== 'object' || step === null || !OPS.has(step.op) || !Array.isArray(step.args)) fail('step', step);
    taskIndex('step.task', step.task);
  }
  const w = s.write;
  if (typeof w !== 'object' || w === null || !WRITES.has(w.to)) return fail('write', w);
  if (w.to === 'take' && (!Number.isInteger(w.count) || w.count < 0)) fail('write.count', w.count);
  if (w.to === 'reduce' || w.to === 'fold') taskIndex('write.task', w.task);
  if (w.to === 'shuffle') {
    if (!KINDS.has(w.kind)) fail('write.kind', w.kind);
    if (!Number.isInteger(w.partitions) || w.partitions < 1 || w.partitions > MAX_SHUFFLE_PARTITIONS) fail('write.partitions', w.partitions);
    if (w.kind === 'reduceByKey') taskIndex('write.task', w.task);
  }
  if (typeof s.async !== 'boolean') fail('async', s.async);
  return s;
}
