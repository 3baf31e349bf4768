/**
 * The "collection" rows of `weft bench pi` and `wordcount`: the same work written with bag()
 * (src/collections/), on the executors where the issue set a goal (threads, the cluster), next
 * to the hand-written map + merge row of the same executor and the plain loop, in the same run.
 */
import { bag } from '../collections/bag.js';
import type { Executor } from '../core/executor.js';
import type { Goal } from './harness.js';
import benchTasks from './tasks.js';

/** Executors that get a collection row, when they are in the run. */
export const COLLECTION_EXECUTORS = ['threads', 'cluster'];

export const collectionRow = (executor: string) => `collection (${executor})`;

/** The articles' pi as Spark writes it: parallelize the inputs, map the sampler, reduce with add. */
export function piBag(inputs: number[], executor: Executor): Promise<number> {
  return bag(inputs).map(benchTasks.monteCarlo).reduce(benchTasks.add).compute(executor);
}

/** The word count as Dask writes it (`flatten().frequencies()`): words counted per partition, counts added up. */
export function wordcountBag(chunks: string[], executor: Executor): Promise<Map<string, number>> {
  return bag(chunks).flatMap(benchTasks.words).countByValue().compute(executor);
}

/** The word count as Spark's example writes it: (word, 1) pairs, reduceByKey(add), one shuffle. */
export async function wordcountPairsBag(chunks: string[], executor: Executor): Promise<Map<string, number>> {
  return new Map(await bag(chunks).flatMap(benchTasks.words).map(benchTasks.withOne).reduceByKey(benchTasks.add).collect(executor));
}

/** What a collection row is held to: its time against its executor's map + merge, and its speedup over the plain loop. */
export interface CollectionGoal {
  /** As printed after the figures, e.g. "goal: within 1.10x". */
  text: string;
  met(vsHand: number, vsPlain: number | undefined): boolean;
}

/**
 * Each collection row against its executor's hand-written row and the plain loop: a verdict
 * for the rows the goal is about, a note for the reduceByKey row (shown, not judged).
 */
export function collectionVerdicts(rows: { executor: string; seconds: number }[], goal: CollectionGoal): { notes: string[]; goals: Goal[] } {
  const notes: string[] = [];
  const goals: Goal[] = [];
  const plain = rows.find((r) => r.executor === 'plain loop');
  for (const row of rows) {
    const match = /^collection(?: (reduceByKey))? \((\w+)\)$/.exec(row.executor);
    const hand = match && rows.find((r) => r.executor === match[2]);
    if (!match || !hand) continue;
    const vsHand = row.seconds / hand.seconds;
    const vsPlain = plain ? plain.seconds / row.seconds : undefined;
    const text = `${row.executor}: ${vsHand.toFixed(3)}x the time of ${hand.executor}'s map + merge${vsPlain === undefined ? '' : `, ${vsPlain.toFixed(2)}x the plain loop`}`;
    if (match[1]) notes.push(text);
    else goals.push({ text: `${text} (${goal.text})`, met: goal.met(vsHand, vsPlain) });
  }
  return { notes, goals };
}
