// The tasks of the cluster example. Workers on other hosts load this module with
// `weft worker --tasks build/examples/cluster-tasks.js` and find the tasks by name.
import { defineTasks } from 'weft';

export default defineTasks(import.meta.url, {
  /** The articles' calcPi task: how many of `tries` random points fall inside the quarter circle. */
  monteCarlo(tries: number): number {
    let hits = 0;
    for (let i = 0; i < tries; i++) if (Math.hypot(Math.random(), Math.random()) < 1) hits++;
    return hits;
  },
}, { namespace: 'pi' });
