/**
 * The messages a transport holds: received from SQS, not yet settled, across all its
 * consumers (a cancelled consumer's included). The visibility timeout is the lease:
 *
 *   receive (invisible for V s) ──► held ──every V/3 s──► ChangeMessageVisibility(V)   (a live process keeps it)
 *                                     ├── ack ─────────► DeleteMessage
 *                                     ├── requeue ─────► ChangeMessageVisibility(0)    (visible again at once)
 *                                     └── close ───────► ChangeMessageVisibility(0) for all of them
 *
 * V is redeliverAfter rounded up to whole seconds (SQS counts in seconds, at least 1): a process
 * that dies or stalls for V has its messages delivered again. Every call is batched per queue.
 * AWS never extends a message's visibility past 12 hours from its first receive: a handler
 * that runs longer loses its message to another consumer (the renewal fails, and is dropped).
 */
import type { SqsApi } from './api.js';
import { Batcher } from './batcher.js';

/** Requests out at once per queue, for each kind of settle. */
const IN_FLIGHT = 8;
/** SQS's longest visibility timeout, in seconds (12 hours). */
export const MAX_VISIBILITY_SECONDS = 43_200;

export interface Held {
  readonly url: string;
  readonly handle: string;
}

interface VisibilityChange {
  handle: string;
  seconds: number;
}

export class Holds {
  readonly #api: SqsApi;
  readonly #seconds: number;
  readonly #held = new Set<Held>();
  readonly #deletes = new Map<string, Batcher<string>>();
  readonly #changes = new Map<string, Batcher<VisibilityChange>>();
  readonly #timer: NodeJS.Timeout;

  /** `redeliverAfter`: milliseconds, made whole seconds between 1 and 12 hours. */
  constructor(api: SqsApi, redeliverAfter: number) {
    this.#api = api;
    this.#seconds = visibilitySeconds(redeliverAfter);
    this.#timer = setInterval(() => this.#renew(), Math.floor(this.#seconds * 1000 / 3));
    this.#timer.unref();
  }

  /** The visibility timeout every receive asks for. */
  get seconds(): number {
    return this.#seconds;
  }

  hold(url: string, handle: string): Held {
    const held = { url, handle };
    this.#held.add(held);
    return held;
  }

  /** Deleted for good. */
  ack(held: Held): Promise<void> {
    this.#held.delete(held);
    return this.#batcher(this.#deletes, held.url, (handles) => this.#api.deleteBatch(held.url, handles)).add(held.handle);
  }

  /** Visible again at once, to any consumer. */
  requeue(held: Held): Promise<void> {
    this.#held.delete(held);
    return this.#change(held.url, { handle: held.handle, seconds: 0 });
  }

  /** Forgets a message without telling SQS (it was moved elsewhere, or the transport is gone). */
  release(held: Held): void {
    this.#held.delete(held);
  }

  /** Every held message visible again (closing): resolves once SQS has them all, or they failed. */
  async giveBackAll(): Promise<void> {
    const all = [...this.#held];
    this.#held.clear();
    await Promise.allSettled(all.map((held) => this.#change(held.url, { handle: held.handle, seconds: 0 })));
  }

  /** Resolves once every settle asked for so far has been answered. */
  async whenIdle(): Promise<void> {
    await Promise.all([...this.#deletes.values(), ...this.#changes.values()].map((batcher) => batcher.whenIdle()));
  }

  /** Stops renewing: what is held goes back when its visibility runs out. */
  stop(): void {
    clearInterval(this.#timer);
    this.#held.clear();
  }

  #renew(): void {
    for (const held of this.#held) {
      // A failed renewal (the message went back meanwhile, or past AWS's 12 hours) is nothing to act on.
      this.#change(held.url, { handle: held.handle, seconds: this.#seconds }).catch(() => undefined);
    }
  }

  #change(url: string, change: VisibilityChange): Promise<void> {
    return this.#batcher(this.#changes, url, (changes) => this.#api.visibilityBatch(url, changes)).add(change);
  }

  #batcher<E>(map: Map<string, Batcher<E>>, url: string, run: (entries: E[]) => Promise<(Error | undefined)[]>): Batcher<E> {
    let batcher = map.get(url);
    if (!batcher) {
      const made: Batcher<E> = new Batcher<E>({
        run,
        maxInFlight: IN_FLIGHT,
        onIdle: () => {
          if (map.get(url) === made) map.delete(url);
        },
      });
      batcher = made;
      map.set(url, batcher);
    }
    return batcher;
  }
}

export function visibilitySeconds(redeliverAfter: number): number {
  return Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil(redeliverAfter / 1000)));
}
