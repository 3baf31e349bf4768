/**
 * Polls one source and keeps what the page needs beyond a single read: the rate history.
 *
 *   timer (interval) ─▶ source.read() ─▶ rates from the workers' counters ─▶ snapshot ─▶ listeners
 *   refresh() (after an action) ─▶ the same, now; reads never overlap (a refresh during a read
 *   waits for it, then reads once more)
 *
 * Rates come from the difference of each worker's completed/failed counters between two reads;
 * a counter that went down (the worker restarted under the same name) counts from zero.
 */
import { logger } from '../log.js';
import type { DashboardSource, RatePoint, Snapshot, WorkerRow } from './types.js';

/** How far back the rate charts reach. */
export const HISTORY_MS = 10 * 60_000;

export class Monitor {
  readonly #source: DashboardSource;
  readonly #interval: number;
  readonly #listeners = new Set<(snapshot: Snapshot) => void>();
  readonly #rates: RatePoint[] = [];
  #counters = new Map<string, { completed: number; failed: number }>();
  #lastAt = 0;
  #snapshot: Snapshot | undefined;
  #reading: Promise<Snapshot> | undefined;
  #again: Promise<Snapshot> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(source: DashboardSource, interval: number) {
    this.#source = source;
    this.#interval = interval;
  }

  /** Reads once (so the first page has figures), then keeps reading every interval. */
  async start(): Promise<void> {
    await this.refresh();
    this.#schedule();
  }

  get snapshot(): Snapshot | undefined {
    return this.#snapshot;
  }

  subscribe(listener: (snapshot: Snapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads now (after any read under way), and resolves with that read's snapshot. */
  refresh(): Promise<Snapshot> {
    if (!this.#reading) return (this.#reading = this.#read().finally(() => (this.#reading = undefined)));
    this.#again ??= this.#reading.then(() => {
      this.#again = undefined;
      return this.refresh();
    });
    return this.#again;
  }

  /** Stops reading; resolves once a read under way is over (the source can close then). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#listeners.clear();
    await this.#again?.catch(() => {});
    await this.#reading?.catch(() => {});
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.refresh().finally(() => this.#schedule()), this.#interval);
  }

  async #read(): Promise<Snapshot> {
    const base = { source: this.#source.label, capabilities: this.#source.capabilities };
    let snapshot: Snapshot;
    try {
      const figures = await this.#source.read();
      const at = Date.now();
      this.#sample(at, figures.workers);
      snapshot = { ...base, ...figures, at, rates: [...this.#rates] };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const previous = this.#snapshot;
      // Once per outage, not once per interval.
      if (previous?.error === undefined && !this.#closed) logger().warn('dashboard: reading the cluster failed', { source: this.#source.label, error: message });
      snapshot = previous
        ? { ...previous, at: Date.now(), error: message }
        : { ...base, at: Date.now(), workers: [], queues: [], running: [], recent: [], deadLetters: [], rates: [], error: message, totals: { queued: 0, running: 0, completed: 0, failed: 0, dead: 0 } };
    }
    this.#snapshot = snapshot;
    if (!this.#closed) for (const listener of this.#listeners) listener(snapshot);
    return snapshot;
  }

  #sample(at: number, workers: WorkerRow[]): void {
    let completed = 0;
    let failed = 0;
    const counters = new Map<string, { completed: number; failed: number }>();
    for (const w of workers) {
      const key = `${w.host}:${w.pid}:${w.key}`;
      const before = this.#counters.get(key);
      counters.set(key, { completed: w.completed, failed: w.failed });
      if (!before) continue; // first seen: its counters are its past, not this interval's
      completed += w.completed >= before.completed ? w.completed - before.completed : w.completed;
      failed += w.failed >= before.failed ? w.failed - before.failed : w.failed;
    }
    this.#counters = counters;
    if (this.#lastAt > 0) {
      const seconds = Math.max(0.001, (at - this.#lastAt) / 1000);
      this.#rates.push({ t: at, completed: completed / seconds, failed: failed / seconds });
      while (this.#rates.length > 0 && this.#rates[0]!.t < at - HISTORY_MS) this.#rates.shift();
    }
    this.#lastAt = at;
  }
}
