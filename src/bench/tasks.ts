// Tasks the benchmarks run. Workers import this module by URL.
import { defineTasks } from '../core/task.js';

/** Monte Carlo hits inside the unit quarter circle out of `tries` random points (the articles' calcPi). */
export function monteCarloHits(tries: number): number {
  let hits = 0;
  for (let i = 0; i < tries; i++) {
    const x = Math.random();
    const y = Math.random();
    if (x * x + y * y <= 1) hits++;
  }
  return hits;
}

/** `tasks` runs of monteCarloHits(samples) in one loop: the sequential baseline, and a static split's share. */
export function monteCarloLoop(tasks: number, samples: number): number {
  let hits = 0;
  for (let i = 0; i < tasks; i++) hits += monteCarloHits(samples);
  return hits;
}

export default defineTasks(import.meta.url, {
  monteCarlo: monteCarloHits,
  noop(value: number): number {
    return value;
  },
}, { namespace: 'weft.bench' });
