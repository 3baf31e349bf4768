/**
 * The messages between a pool and its workers. Both directions send one flat array per flush,
 * a sequence of records `op, fields...`, so that a batch of a hundred tasks is one structured
 * clone of one array rather than a hundred objects (fewer allocations on both sides).
 *
 *   pool ─▶ worker   DEF   taskId, how (MODULE|SOURCE), moduleUrl|source, key
 *                    CALL  taskId, futureId, attempt, args            (seq = calls received so far)
 *                    CHUNK taskId, futureId, attempt, argLists    (starmap: one list per call)
 *                    ITEMS taskId, futureId, attempt, items       (map: one argument per call)
 *                    ABORT seq, reasonName, reasonMessage
 *                    TRACE traceparent      (only when tracing: the next call's trace carrier)
 *                    LOAD  moduleUrl        (import it before running the calls that follow:
 *                                            sync/index.js before the first Lock, Queue, ...)
 *   worker ─▶ pool   OK    seq, value        ERR seq, SerializedError
 *                    YIELD seq, value        PROGRESS seq, value
 *
 * A worker runs its calls one at a time in arrival order, so OK/ERR always settle the oldest
 * call the pool has sent that worker; `seq` lets the pool check that and drop stale progress.
 */
export const DEF = 0;
export const CALL = 1;
export const CHUNK = 2;
export const ABORT = 3;
export const ITEMS = 4;
export const TRACE = 5;
export const LOAD = 6;

/** Whether a pool-to-worker record is a call (one or a chunk), which the worker numbers. */
export function isCall(op: number): boolean {
  return op === CALL || op === CHUNK || op === ITEMS;
}

export const OK = 0;
export const ERR = 1;
export const YIELD = 2;
export const PROGRESS = 3;

/** How a DEF names its function. */
export const MODULE = 0;
export const SOURCE = 1;

/** Fields after the op code, per op, for each direction. */
export const TO_WORKER_FIELDS = [4, 4, 4, 3, 4, 1, 1] as const;
export const TO_POOL_FIELDS = [2, 2, 2, 2] as const;

/** What a worker entry receives as workerData (threads) or its first message (processes). */
export interface WorkerBoot {
  /** Int32Array view: [0] = how many calls this worker has started (crash attribution). */
  started: SharedArrayBuffer | undefined;
  workerId: number;
  /** Loader modules of the caller to run first (see preload.ts). */
  preload: string[];
}
