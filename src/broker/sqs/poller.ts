/**
 * One consumer of a queue: long polls (ReceiveMessage, WaitTimeSeconds 20) within its prefetch.
 *
 *   unsettled + asked ≤ prefetch, always: up to MAX_POLLS receives out at once, each for ≤ 10
 *   (SQS's most), each asking only for room that is free. A settle frees room and asks again.
 *   An idle consumer keeps one receive out; every receive that comes back full allows one more
 *   (the queue has a backlog), and an empty one brings it back to one: few empty receives
 *   (each billed on AWS), and no herd of them woken by every message.
 *
 * cancel() asks for nothing more. A receive already out cannot be called back (SQS would hand
 * its messages to a connection nobody reads), so it is left to finish and whatever it brings
 * is made visible again at once. Only close() aborts receives; the few messages one may have
 * taken at that moment come back once their visibility timeout (redeliverAfter) runs out.
 */
import type { TransportConsumer } from '../transport.js';
import { isMissingQueue, type SqsApi } from './api.js';
import type { IncomingMessage } from './attributes.js';
import { MAX_BATCH } from './batcher.js';
import type { Holds } from './holds.js';
import type { Queues } from './queues.js';

/** Receives out at once: 100 messages' worth, enough for a prefetch of 100 to stay full. */
const MAX_POLLS = 10;
/** After a failed receive (no answer, a queue deleted), wait this long before the next: no hot loop. */
const RETRY_DELAY = 250;

export interface PollerHost {
  readonly api: SqsApi;
  readonly queues: Queues;
  readonly holds: Holds;
}

/** Hands a received message over; `settled` frees its room in the prefetch, once. */
export type OnMessage = (url: string, message: IncomingMessage, settled: () => void) => void;

export class Poller implements TransportConsumer {
  readonly #host: PollerHost;
  readonly #queue: string;
  readonly #prefetch: number;
  readonly #onMessage: OnMessage;
  readonly #onEnded: () => void;
  readonly #polls = new Set<AbortController>();
  #unsettled = 0;
  #asked = 0;
  /** Receives allowed out at once: 1 to MAX_POLLS. */
  #wanted = 1;
  #stopped = false;
  #retryTimer: NodeJS.Timeout | undefined;

  /** `onEnded`: stopped, with no receive out any more (the transport forgets it then). */
  constructor(host: PollerHost, queue: string, prefetch: number, onMessage: OnMessage, onEnded: () => void) {
    this.#host = host;
    this.#queue = queue;
    this.#prefetch = prefetch;
    this.#onMessage = onMessage;
    this.#onEnded = onEnded;
  }

  start(): void {
    this.#pump();
  }

  /** Nothing more is asked for; receives out give back what they bring. */
  async cancel(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    if (this.#polls.size === 0) this.#onEnded();
  }

  /** The transport is closing or lost: receives out are cut. */
  abort(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    for (const poll of this.#polls) poll.abort();
  }

  #pump(): void {
    while (!this.#stopped && this.#retryTimer === undefined && this.#polls.size < this.#wanted) {
      const count = Math.min(MAX_BATCH, this.#prefetch - this.#unsettled - this.#asked);
      if (count <= 0) return;
      void this.#poll(count);
    }
  }

  async #poll(count: number): Promise<void> {
    const poll = new AbortController();
    this.#polls.add(poll);
    this.#asked += count;
    let url: string | undefined;
    let failed = false;
    try {
      url = await this.#host.queues.ensure(this.#queue);
      const messages = await this.#host.api.receive(url, count, this.#host.holds.seconds, poll.signal);
      this.#polls.delete(poll);
      this.#wanted = messages.length === 0 ? 1 : messages.length === count ? Math.min(MAX_POLLS, this.#wanted + 1) : this.#wanted;
      this.#asked -= count;
      count = 0;
      for (const message of messages) this.#take(url, message);
    } catch (error) {
      if (poll.signal.aborted) return;
      if (isMissingQueue(error)) this.#host.queues.forget(this.#queue);
      failed = true;
    } finally {
      this.#polls.delete(poll);
      this.#asked -= count;
      if (failed && !this.#stopped) this.#retryLater();
      else this.#pump();
      if (this.#stopped && this.#polls.size === 0) this.#onEnded();
    }
  }

  #take(url: string, message: IncomingMessage): void {
    if (message.ReceiptHandle === undefined) return;
    if (this.#stopped) {
      // Cancelled while the receive was out: visible again at once (it counts as a receive).
      const held = this.#host.holds.hold(url, message.ReceiptHandle);
      this.#host.holds.requeue(held).catch(() => undefined);
      return;
    }
    this.#unsettled++;
    let done = false;
    this.#onMessage(url, message, () => {
      if (done) return;
      done = true;
      this.#unsettled--;
      this.#pump();
    });
  }

  #retryLater(): void {
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pump();
    }, RETRY_DELAY);
  }
}
