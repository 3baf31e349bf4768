import type { Job } from '../../core/job.js';
import { MAX_BATCH } from './messages.js';

/**
 * The submitter's coalescing of single submits: the calls dispatched to one queue in one tick
 * (a loop of submits, a burst freed by results) leave as a few BatchMessages instead of one
 * broker message each, so the per-message costs (the publish, the read, the acknowledgement,
 * the reply) are paid once per batch.
 *
 *   dispatch(job) ─▶ the first of this tick for its queue: send(queue, [job]) at once (an awaited
 *      call, one per tick, waits for nothing); the next: pending[queue]
 *      ──(microtask: the end of this tick's submits)──▶ cut into guided sizes
 *      ─▶ send(queue, jobs) for each piece (one job: a plain TaskMessage)
 *
 * Sizes are guided, as map's chunks are: each piece at most a 2 × `held()`-th of what remains
 * (held: the messages the fleet's workers hold at once), and at most MAX_BATCH. The first
 * pieces are large; the last ones shrink to single tasks, so no worker ends up holding a large
 * batch while another has nothing left to take.
 */
export class SubmitBatches {
  readonly #send: (queue: string, jobs: Job[]) => void;
  readonly #held: () => number;
  readonly #max: () => number;
  #pending = new Map<string, Job[]>();
  /** Queues that sent the first call of this tick already. */
  readonly #opened = new Set<string>();
  #scheduled = false;

  constructor(send: (queue: string, jobs: Job[]) => void, held: () => number, max: () => number = () => MAX_BATCH) {
    this.#send = send;
    this.#held = held;
    this.#max = max;
  }

  add(queue: string, job: Job): void {
    const jobs = this.#pending.get(queue);
    if (jobs) jobs.push(job);
    else if (this.#opened.has(queue)) this.#pending.set(queue, [job]);
    else {
      // The first call of a tick leaves at once: an awaited call (one per tick) waits for nothing.
      this.#opened.add(queue);
      this.#send(queue, [job]);
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#opened.clear();
    const pending = this.#pending;
    this.#pending = new Map();
    const held = Math.max(1, this.#held());
    for (const [queue, jobs] of pending) {
      let start = 0;
      for (const size of batchSizes(jobs.length, held, this.#max())) {
        this.#send(queue, jobs.slice(start, start + size));
        start += size;
      }
    }
  };
}

/** Guided piece sizes for `n` tasks when the fleet holds `held` messages at once (see SubmitBatches). */
export function batchSizes(n: number, held: number, max = MAX_BATCH): number[] {
  const sizes: number[] = [];
  for (let remaining = n; remaining > 0;) {
    const size = Math.min(max, remaining, Math.ceil(remaining / (2 * held)));
    sizes.push(size);
    remaining -= size;
  }
  return sizes;
}
