/**
 * What a result backend implements: a table of task outcomes keyed by task id, kept for a time,
 * written once. The broker-backed cluster stores each task's outcome here before it acknowledges
 * the task, so a result outlives the submitter that asked for it (`cluster.result(id)` from any
 * process), and so a task that ran twice (a worker presumed lost came back) settles once.
 *
 * Contract, for every store (test/results/conformance.ts holds each to it):
 * - `settle(id, record)` stores `record` under `id` only if nothing is stored there yet, and
 *   tells whether this call stored it: of several settles of one id, from any processes at
 *   once, exactly one wins, and `get(id)` returns that one's record from then on.
 * - A record is kept at least `ttl` ms after it was stored (the server may keep it longer:
 *   NATS ages a whole bucket), then forgotten.
 * - Records are opaque bytes; the store never decodes them.
 * - A store reconnects by itself after a server restart; calls made while it cannot reach the
 *   server reject (they are retried by the caller), they never resolve falsely.
 */
export interface ResultStore {
  /** `redis`, `nats` or `memory`, for messages. */
  readonly kind: string;
  /** Stores `record` unless `id` has one; true when this call stored it. */
  settle(id: string, record: Uint8Array, ttl: number): Promise<boolean>;
  /** The record stored for `id`, or undefined. */
  get(id: string): Promise<Uint8Array | undefined>;
  /** Removes the record of `id` (a dead letter run again may then store a new one). */
  forget(id: string): Promise<void>;
  /** The records of several ids at once (one round trip where the server allows), in order. */
  getMany(ids: readonly string[]): Promise<(Uint8Array | undefined)[]>;
  close(): Promise<void>;
}

/** How long records are kept unless the cluster says otherwise: a day, as Celery's result_expires. */
export const DEFAULT_RESULT_TTL_MS = 24 * 60 * 60 * 1000;
