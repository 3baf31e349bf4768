/**
 * Gathers the calls that come together into SQS's batch requests (SendMessageBatch,
 * DeleteMessageBatch, ChangeMessageVisibilityBatch):
 *
 *   add(entry) ──► waiting ──(next turn of the event loop)──► run(≤ 10 entries, ≤ maxBytes) ──► each add() settles
 *
 * Everything added in one turn of the event loop goes out together; what comes while
 * `maxInFlight` requests are out waits and goes in the next batch. With maxInFlight 1 the
 * entries leave in the order they were added, batch after batch (what inboxes and topics need).
 */

/** SQS's most entries in one batch request. */
export const MAX_BATCH = 10;

export interface BatchSettings<E> {
  /** Sends one batch; resolves with each entry's error, or undefined for the ones done. A throw fails them all. */
  run(entries: E[]): Promise<(Error | undefined)[]>;
  /** Requests out at once; 1 keeps the order of the entries. */
  maxInFlight: number;
  /** An entry's size, counted against maxBytes. */
  bytes?(entry: E): number;
  maxBytes?: number;
  /** Nothing waits and nothing is out: the owner may forget this batcher. */
  onIdle?(): void;
}

interface Waiting<E> {
  entry: E;
  resolve(): void;
  reject(error: Error): void;
}

export class Batcher<E> {
  readonly #settings: BatchSettings<E>;
  #waiting: Waiting<E>[] = [];
  #inFlight = 0;
  #scheduled = false;
  #idleWaiters: (() => void)[] = [];

  constructor(settings: BatchSettings<E>) {
    this.#settings = settings;
  }

  add(entry: E): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ entry, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#flush();
        });
      }
    });
  }

  get idle(): boolean {
    return this.#waiting.length === 0 && this.#inFlight === 0;
  }

  /** Resolves once everything added so far is settled. */
  whenIdle(): Promise<void> {
    return this.idle ? Promise.resolve() : new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #flush(): void {
    while (this.#waiting.length > 0 && this.#inFlight < this.#settings.maxInFlight) {
      void this.#send(this.#take());
    }
  }

  /** The next batch: up to MAX_BATCH entries within maxBytes (one entry always, whatever its size). */
  #take(): Waiting<E>[] {
    const { bytes, maxBytes = Infinity } = this.#settings;
    let total = 0;
    let count = 0;
    while (count < this.#waiting.length && count < MAX_BATCH) {
      const size = bytes ? bytes(this.#waiting[count]!.entry) : 0;
      if (count > 0 && total + size > maxBytes) break;
      total += size;
      count++;
    }
    return this.#waiting.splice(0, count);
  }

  async #send(batch: Waiting<E>[]): Promise<void> {
    this.#inFlight++;
    try {
      const outcomes = await this.#settings.run(batch.map((waiting) => waiting.entry));
      batch.forEach((waiting, i) => {
        const error = outcomes[i];
        if (error) waiting.reject(error);
        else waiting.resolve();
      });
    } catch (error) {
      for (const waiting of batch) waiting.reject(error as Error);
    } finally {
      this.#inFlight--;
      this.#flush();
      if (this.idle) {
        for (const wake of this.#idleWaiters.splice(0)) wake();
        this.#settings.onIdle?.();
      }
    }
  }
}
