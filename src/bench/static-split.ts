/**
 * The floor a pool's dispatch is measured against in `weft bench pi`: N plain Workers, each
 * given an equal share of the tasks once and answering once (what a hand-rolled program does).
 * On a shared machine its speedup also shows how much parallel capacity there is right now.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

const ENTRY = new URL('./static-split-worker.js', import.meta.url);

export class StaticSplit {
  readonly #workers: Worker[];

  private constructor(workers: Worker[]) {
    this.#workers = workers;
  }

  static async start(count: number): Promise<StaticSplit> {
    const workers = Array.from({ length: count }, () => new Worker(ENTRY));
    await Promise.all(workers.map((w) => once(w, 'online')));
    return new StaticSplit(workers);
  }

  /** Hits over `tasks` tasks of `samples` points, the tasks split evenly between the workers. */
  async run(tasks: number, samples: number): Promise<number> {
    const n = this.#workers.length;
    const shares = this.#workers.map((worker, i) => {
      const share = Math.floor(tasks / n) + (i < tasks % n ? 1 : 0);
      worker.postMessage({ tasks: share, samples });
      return once(worker, 'message').then(([hits]) => hits as number);
    });
    let hits = 0;
    for (const h of await Promise.all(shares)) hits += h;
    return hits;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
