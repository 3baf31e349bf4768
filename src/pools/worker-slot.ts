import { Deque } from '../core/deque.js';
import type { Job } from '../core/job.js';
import type { Transport } from './transports.js';
import { CALL, CHUNK, DEF, ITEMS, LOAD, TO_WORKER_FIELDS, TRACE, isCall } from './wire.js';
import { hooks } from '../observe/hooks.js';
import { encodeArgs, type ObjectServer, type WorkerKind } from '../core/shareable.js';
import { takeTransfers, type Transferable } from './transfer.js';

/**
 * Where the shareable handlers (Lock, Queue, ...) live. Workers do not import it at start (it
 * is about half of a worker's start-up): a worker is told to the first time it is sent one.
 */
const SHAREABLES_MODULE = new URL('../sync/index.js', import.meta.url).href;

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
  /** Whether this worker has been told to load the shareable handlers. */
  #shareables = false;
  outbox: unknown[] = [];
  transfers: Transferable[] | undefined;
  dirty = false;
  ready = false;
  readyWaiters: (() => void)[] = [];
  busy = false;
  /** 'stop': idle shutdown or pool close; 'kill': terminated while holding work. */
  exiting: false | 'stop' | 'kill' = false;
  killReason: string | undefined;
  /** The call it was killed for (cancelled with force, past its grace period), if any. */
  killTarget: Job | undefined;
  /** Calls that have streamed values (generators) and not settled: never run twice. */
  readonly streamed = new Set<Job>();
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

  /** Queues `job`'s call, preceded by its task's DEF the first time this worker sees the task. */
  pushCall(job: Job, taskId: number, def: readonly [how: number, where: string, key: string], kind: WorkerKind, server: ObjectServer | undefined): void {
    if (!this.known[taskId]) {
      this.outbox.push(DEF, taskId, def[0], def[1], def[2]);
      this.known[taskId] = true;
    }
    const args = job.kind === 'chunk' ? this.#encodeChunk(job.args as unknown[][], kind, server) : this.#encode(job.args, kind, server);
    const trace = hooks.current?.carrierOf(job);
    if (trace !== undefined) this.outbox.push(TRACE, trace);
    this.outbox.push(job.kind === 'call' ? CALL : job.kind === 'chunk' ? CHUNK : ITEMS, taskId, job.id, job.runningAttempt, args);
    job.slot = this;
    this.fifo.push(job);
  }

  #encode(args: readonly unknown[], kind: WorkerKind, server: ObjectServer | undefined): readonly unknown[] {
    this.transfers = takeTransfers(args, this.transfers); // processes ignore them, but the marks are cleared
    const encoded = encodeArgs(args, kind, server);
    if (encoded !== args && !this.#shareables) {
      this.outbox.push(LOAD, SHAREABLES_MODULE); // before the call that carries one
      this.#shareables = true;
    }
    return encoded;
  }

  #encodeChunk(argLists: readonly unknown[][], kind: WorkerKind, server: ObjectServer | undefined): readonly (readonly unknown[])[] {
    let out: (readonly unknown[])[] | undefined;
    for (let i = 0; i < argLists.length; i++) {
      const encoded = this.#encode(argLists[i]!, kind, server);
      if (encoded !== argLists[i]) (out ??= [...argLists])[i] = encoded;
    }
    return out ?? argLists;
  }

  /**
   * Sends the outbox as one message. When it will not serialise (an argument that cannot be
   * cloned), sends it record by record and returns the calls that could not go with why; they
   * leave the fifo before the worker numbers them, so seqs stay aligned.
   */
  flush(): Map<Job, unknown> | undefined {
    this.dirty = false;
    const batch = this.outbox;
    const transfers = this.transfers;
    this.outbox = [];
    this.transfers = undefined;
    if (this.exiting === 'kill') return undefined; // its jobs are failed or requeued on exit
    try {
      this.transport.send(batch, transfers);
      return undefined;
    } catch (error) {
      return this.#sendEach(batch, error);
    }
  }

  #sendEach(batch: unknown[], firstError: unknown): Map<Job, unknown> {
    const dropped = new Map<Job, unknown>();
    const fifo = [...this.fifo.drain()];
    let next = fifo.length - countCalls(batch); // fifo index of the first call in this batch
    for (let i = 0; i < batch.length;) {
      const op = batch[i] as number;
      const width = recordWidth(op);
      const record = batch.slice(i, i + width);
      i += width;
      try {
        this.transport.send(record, undefined); // copied, not transferred, on this rare path
      } catch (error) {
        if (!isCall(op)) throw error;
        dropped.set(fifo[next]!, error ?? firstError);
      }
      if (isCall(op)) next++;
    }
    for (const job of fifo) if (!dropped.has(job)) this.fifo.push(job);
    return dropped;
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

function countCalls(batch: unknown[]): number {
  let calls = 0;
  for (let i = 0; i < batch.length;) {
    const op = batch[i] as number;
    if (isCall(op)) calls++;
    i += recordWidth(op);
  }
  return calls;
}

/** A pool-to-worker record's length: its op and its fields. */
function recordWidth(op: number): number {
  return (TO_WORKER_FIELDS as readonly number[])[op]! + 1;
}
