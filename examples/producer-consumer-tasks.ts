// The tasks of the producer/consumer example: what multiprocessing.Process(target=...) ran.
import { defineTasks, type Queue } from 'weft';

export default defineTasks(import.meta.url, {
  /** Puts the numbers 1..count on the queue (waiting whenever the bounded queue is full). */
  async producer(jobs: Queue<number>, count: number): Promise<number> {
    for (let n = 1; n <= count; n++) await jobs.put(n);
    return count;
  },

  /** Squares numbers until the queue is closed and empty; says who did each one. */
  async consumer(name: string, jobs: Queue<number>, results: Queue<[string, number, number]>): Promise<number> {
    let done = 0;
    for await (const n of jobs) {
      await results.put([name, n, n * n]);
      done++;
    }
    return done;
  },
});
