import { Deque } from '../core/deque.js';
import type { Job } from '../core/job.js';
import type { WorkerSlot } from './worker-slot.js';

/**
 * What becomes of the calls a worker held when it died. A worker runs its calls one at a time
 * in order and answers them in batches (once per turn of its event loop), so its fifo reads:
 *
 *   seq settled+1 ...   [ finished, answer not sent ][ running ][ not started ]
 *                             run again (1)           blamed     run again
 *
 * - `started` (threads: shared memory; children: their exit report) says where "running" is.
 *   Answers a worker had computed but not sent die with it when it cannot run JavaScript any
 *   more (out of memory, killed): those calls run again (requeued) rather than fail for
 *   their neighbour's sake. (1) So a call may run twice, only when its worker died.
 * - A child that died without a report (V8 aborts it out of memory, a signal kills it) cannot
 *   say which call was running: with one call it is that one; with several, all are suspects,
 *   and each runs again alone on a worker, so the one that kills a worker alone is known.
 * - Killed by the pool for one call (cancelled with force, past its grace period): that one
 *   is blamed, whatever was running; the others run again (all of them, if it had answered).
 * - A call that had streamed values (a generator) is never run again, which would repeat them:
 *   it fails.
 * - A worker that died before it was ready started nothing, but running again would loop: all fail.
 */
export type Fate = 'blamed' | 'rerun' | 'suspect' | 'streamed';

/** What fatesOf reads of a dead worker (a WorkerSlot). */
export interface DeadWorker<J> {
  readonly ready: boolean;
  /** Seq of the last call it answered; its held calls are settled + 1, settled + 2, ... */
  readonly settled: number;
  readonly exiting: false | 'stop' | 'kill';
  readonly killReason: string | undefined;
  readonly killTarget: J | undefined;
  readonly streamed: ReadonlySet<J>;
}

/** One fate per held call, in `jobs` order; `started` is the seq it said it had started, if it could. */
export function fatesOf<J>(w: DeadWorker<J>, started: number | undefined, jobs: readonly J[]): Fate[] {
  if (!w.ready) return jobs.map(() => 'blamed');
  const first = w.settled + 1;
  const target = w.killTarget;
  // terminateWorkers() kills children by signal: no report, the oldest call is blamed (as documented).
  const running = target !== undefined ? undefined : started ?? (w.exiting === 'kill' && w.killReason ? first : undefined);
  const unknown = target === undefined && running === undefined && jobs.length > 1;
  return jobs.map((job, i) => {
    // Killed for a call that answered before it died: no one else is to blame.
    const blamed = target !== undefined ? job === target : running === undefined ? !unknown : first + i === running;
    if (blamed) return 'blamed';
    if (w.streamed.has(job)) return 'streamed';
    return unknown ? 'suspect' : 'rerun';
  });
}

/**
 * The suspects of children that died without a report: one worker at a time (the isolator)
 * runs them, one call at a time and nothing else meanwhile, so a call that kills it is the
 * one to blame. It is an idle worker if there is one, else a starting (fresh) one, else the
 * least loaded, which drains first; with no suspect left it is a worker like the others.
 */
export class Isolation {
  readonly jobs = new Deque<Job>();
  /** The isolator: the pool binds it no other work. */
  worker: WorkerSlot | undefined;
  readonly #run: (w: WorkerSlot, job: Job) => void;
  readonly #letGo: (job: Job) => void;
  readonly #release: (w: WorkerSlot) => void;

  /** run: bind a call to a worker; letGo: release a call cancelled meanwhile; release: the isolator is free. */
  constructor(run: (w: WorkerSlot, job: Job) => void, letGo: (job: Job) => void, release: (w: WorkerSlot) => void) {
    this.#run = run;
    this.#letGo = letGo;
    this.#release = release;
  }

  /** Chooses the isolator among `workers` if suspects wait and there is none. */
  isolate(workers: readonly WorkerSlot[]): void {
    if (this.worker || this.jobs.length === 0) return;
    let bestRank = Infinity;
    for (const w of workers) {
      const rank = w.fifo.length * 2 + (w.ready ? 0 : 1);
      if (!w.exiting && rank < bestRank) [this.worker, bestRank] = [w, rank];
    }
    this.feed(); // none left: the pool starts one or fails the suspects
  }

  /** The isolator, once ready and idle, runs the next suspect. */
  feed(): void {
    const w = this.worker;
    if (!w || !w.ready || w.exiting || w.fifo.length > 0) return;
    let job: Job | undefined;
    // Cancelled (or timed out) while waiting: let it go rather than run it.
    while ((job = this.jobs.shift()) && job.future.done()) this.#letGo(job);
    if (job) return this.#run(w, job);
    this.worker = undefined;
    this.#release(w);
  }
}
