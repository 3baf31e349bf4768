import type { Transferable } from './transfer.js';
import { Deque } from '../core/deque.js';
import type { Job } from '../core/job.js';
import type { Transport } from './transports.js';

/** What `pool.stats.workers` reports for one worker. */
export interface WorkerStats {
  id: number;
  /** Worker threads: the thread id. */
  threadId: number | undefined;
  /** Child processes: the pid. */
  pid: number | undefined;
  /** Tasks this worker holds now: the one running and those queued behind it. */
  running: number;
  completed: number;
  failed: number;
  /** Share of its lifetime this worker spent with work to do, 0..1. */
  utilisation: number;
}

/**
 * The pool's record of one worker. Invariant: `fifo` holds the calls sent to the worker and not
 * yet settled, oldest first; the worker runs them in that order, so the head is the one running
 * and its seq is `settled + 1`.
 */
export class WorkerSlot {
  readonly fifo = new Deque<Job>();
  settled = 0;
  /** Task ids whose DEF this worker has been sent. */
  readonly known: boolean[] = [];
  outbox: unknown[] = [];
  transfers: Transferable[] | undefined;
  dirty = false;
  ready = false;
  readyWaiters: (() => void)[] = [];
  busy = false;
  /** 'stop': idle shutdown or pool close; 'kill': terminated while holding work. */
  exiting: false | 'stop' | 'kill' = false;
  killReason: string | undefined;
  graceTimer: ReturnType<typeof setTimeout> | undefined;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the last reply came while busy; the gap per settled call samples the task time. */
  lastReplyAt = 0;
  completed = 0;
  failed = 0;
  #busyMs = 0;
  #busySince = 0;
  readonly #bornAt = performance.now();
  transport!: Transport;

  constructor(readonly id: number) {}

  markBusy(busy: boolean, now: number): void {
    if (busy === this.busy) return;
    this.busy = busy;
    if (busy) this.#busySince = this.lastReplyAt = now;
    else this.#busyMs += now - this.#busySince;
    this.transport.setBusy(busy);
  }

  stats(): WorkerStats {
    const now = performance.now();
    const busy = this.#busyMs + (this.busy ? now - this.#busySince : 0);
    const alive = now - this.#bornAt;
    return {
      id: this.id,
      threadId: this.transport.threadId,
      pid: this.transport.pid,
      running: this.fifo.length,
      completed: this.completed,
      failed: this.failed,
      utilisation: alive > 0 ? Math.min(1, busy / alive) : 0,
    };
  }
}
