import type { Job } from '../core/job.js';
import type { ExitInfo } from './transports.js';
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
 *   more (out of memory, killed): those calls run again on a fresh worker rather than fail for
 *   their neighbour's sake. (1) So a call may run twice, only when its worker died.
 * - A child that died without a report (V8 aborts it out of memory, a signal kills it) cannot
 *   say which call was running: with one call it is that one; with several, all are suspects,
 *   and each runs again alone on a worker, so the one that kills a worker alone is known.
 * - Killed by the pool for one call (cancelled with force, past its grace period): that one
 *   is blamed, whatever was running; the others run again.
 * - A call that had streamed values (a generator) is never run again, which would repeat them:
 *   it fails.
 * - A worker that died before it was ready started nothing, but running again would loop: all fail.
 */
export type Fate = 'blamed' | 'rerun' | 'suspect' | 'streamed';

export function fatesOf(w: WorkerSlot, info: ExitInfo, jobs: readonly Job[]): Fate[] {
  if (!w.ready) return jobs.map(() => 'blamed');
  const first = w.settled + 1;
  const target = w.killTarget && jobs.includes(w.killTarget) ? w.killTarget : undefined;
  // terminateWorkers() kills children by signal: no report, the oldest call is blamed (as documented).
  const started = target ? undefined : info.started ?? (w.exiting === 'kill' && w.killReason ? first : undefined);
  const unknown = !target && started === undefined && jobs.length > 1;
  return jobs.map((job, i) => {
    const blamed = target ? job === target : started === undefined ? !unknown : first + i === started;
    if (blamed) return 'blamed';
    if (w.streamed.has(job)) return 'streamed';
    return unknown ? 'suspect' : 'rerun';
  });
}
