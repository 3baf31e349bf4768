// Tasks the benchmarks run. Workers import this module by URL.
import { defineTasks } from '../core/task.js';

/**
 * Monte Carlo hits inside the unit quarter circle out of `tries` random points: the articles'
 * calcPi, `sum(hypot(random(), random()) < 1 for _ in range(tries))`, kernel and all. Their
 * figures (and the peers' here) were measured with hypot; `x * x + y * y <= 1` is 2.5–3x cheaper
 * per sample and would make every task of the same nominal size a finer grain than theirs.
 */
export function monteCarloHits(tries: number): number {
  let hits = 0;
  for (let i = 0; i < tries; i++) if (Math.hypot(Math.random(), Math.random()) < 1) hits++;
  return hits;
}

/** `tasks` runs of monteCarloHits(samples) in one loop: the sequential baseline, and a static split's share. */
export function monteCarloLoop(tasks: number, samples: number): number {
  let hits = 0;
  for (let i = 0; i < tasks; i++) hits += monteCarloHits(samples);
  return hits;
}

/** Counts the words of `text`, lower-cased (as examples/wordcount-objects.ts does). */
export function countWords(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}

/** The words of `text`, lower-cased, by the same pattern as countWords: a Bag's flatMap step. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
}

export default defineTasks(import.meta.url, {
  monteCarlo: monteCarloHits,
  countWords,
  words,
  withOne(word: string): [string, number] {
    return [word, 1];
  },
  add(a: number, b: number): number {
    return a + b;
  },
  noop(value: number): number {
    return value;
  },
}, { namespace: 'weft.bench' });
