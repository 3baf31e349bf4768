/**
 * Reads an inbox's or a subscription's queue (a FIFO queue this transport made): one long
 * poll at a time, so payloads are handed over in the order the queue gives them, each deleted
 * once handed over (these are not durable: at most a payload whose delete failed comes again).
 * A queue deleted behind its back (an orphan sweep that took a stopped process for dead) is
 * made again under the same name.
 */
import { isMissingQueue, type SqsApi } from './api.js';
import type { IncomingMessage } from './attributes.js';
import { MAX_BATCH, Batcher } from './batcher.js';

/** Seconds a received payload stays invisible before it is deleted (if the delete fails, it comes again). */
const VISIBILITY_SECONDS = 30;
/** After a failed receive, wait this long before the next. */
const RETRY_DELAY = 250;

export class QueueListener {
  readonly #api: SqsApi;
  #url: string;
  readonly #remake: () => Promise<string>;
  readonly #onMessage: (message: IncomingMessage) => void;
  readonly #poll = new AbortController();
  readonly #deletes: Batcher<string>;
  readonly #loop: Promise<void>;

  /** `remake()` makes the queue again and gives its URL. */
  constructor(api: SqsApi, url: string, remake: () => Promise<string>, onMessage: (message: IncomingMessage) => void) {
    this.#api = api;
    this.#url = url;
    this.#remake = remake;
    this.#onMessage = onMessage;
    this.#deletes = new Batcher<string>({ run: (handles) => this.#api.deleteBatch(this.#url, handles), maxInFlight: 4 });
    this.#loop = this.#run();
  }

  get url(): string {
    return this.#url;
  }

  /** Stops reading (a receive out is cut) and resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.#poll.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#poll.signal.aborted) {
      try {
        const messages = await this.#api.receive(this.#url, MAX_BATCH, VISIBILITY_SECONDS, this.#poll.signal);
        for (const message of messages) {
          if (this.#poll.signal.aborted) return;
          try {
            this.#onMessage(message);
          } catch {
            // The listener owns its failures; the queue is read on.
          }
          if (message.ReceiptHandle !== undefined) this.#deletes.add(message.ReceiptHandle).catch(() => undefined);
        }
      } catch (error) {
        if (this.#poll.signal.aborted) return;
        if (isMissingQueue(error)) this.#url = await this.#remake().catch(() => this.#url);
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY));
      }
    }
  }
}
