/**
 * The floor a pool's dispatch is measured against in `weft bench pi` and `weft bench wordcount`:
 * N plain Workers, each given one share of the work once and answering once (what a hand-rolled
 * program does: no queue, no message per task). On a shared machine its speedup also shows how
 * much parallel capacity there is right now: it cannot rebalance when a neighbour takes a core.
 *
 *   run(shares) ──postMessage(share i)──▶ worker i ──one answer──▶ answers, in share order
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

/** N plain Workers running `entry`: each answers every message it is sent with one message. */
export class WorkerSplit<Share, Answer> {
  readonly #workers: Worker[];

  private constructor(workers: Worker[]) {
    this.#workers = workers;
  }

  static async start<Share, Answer>(count: number, entry: URL): Promise<WorkerSplit<Share, Answer>> {
    const workers = Array.from({ length: count }, () => new Worker(entry));
    try {
      await Promise.all(workers.map((w) => once(w, 'online')));
    } catch (error) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    }
    return new WorkerSplit(workers);
  }

  get size(): number {
    return this.#workers.length;
  }

  /** Sends share i to worker i (one share per worker) and gathers their answers. */
  run(shares: Share[]): Promise<Answer[]> {
    if (shares.length !== this.#workers.length) throw new RangeError(`${shares.length} shares for ${this.#workers.length} workers`);
    return Promise.all(shares.map((share, i) => {
      const worker = this.#workers[i]!;
      // 'error' rejects the once(): a worker that throws fails the run instead of hanging it.
      const answer = once(worker, 'message').then(([value]) => value as Answer);
      worker.postMessage(share);
      return answer;
    }));
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}

/** pi's split: Monte Carlo tasks shared evenly (static-split-worker.ts). */
export class StaticSplit {
  readonly #split: WorkerSplit<{ tasks: number; samples: number }, number>;

  private constructor(split: WorkerSplit<{ tasks: number; samples: number }, number>) {
    this.#split = split;
  }

  static async start(count: number): Promise<StaticSplit> {
    return new StaticSplit(await WorkerSplit.start(count, new URL('./static-split-worker.js', import.meta.url)));
  }

  /** Hits over `tasks` tasks of `samples` points, the tasks split evenly between the workers. */
  async run(tasks: number, samples: number): Promise<number> {
    const n = this.#split.size;
    const shares = Array.from({ length: n }, (_, i) => ({ tasks: Math.floor(tasks / n) + (i < tasks % n ? 1 : 0), samples }));
    let hits = 0;
    for (const h of await this.#split.run(shares)) hits += h;
    return hits;
  }

  close(): Promise<void> {
    return this.#split.close();
  }
}
