// The articles' `test(tries)`: how many of `tries` random points fall inside the quarter circle.
import { defineTasks } from 'weft';

export default defineTasks(import.meta.url, {
  test(tries: number): number {
    let hits = 0;
    for (let i = 0; i < tries; i++) if (Math.hypot(Math.random(), Math.random()) < 1) hits++;
    return hits;
  },
});
