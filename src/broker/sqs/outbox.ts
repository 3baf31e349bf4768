/**
 * Everything a transport sends, batched per destination:
 *
 *   publish(queue)     ─► that queue's Batcher  (8 requests out at once; queues promise no order)
 *   reply(inbox)       ─► that inbox's Batcher  (1 out at once: the order sent) ─► SendMessageBatch
 *   broadcast(topic)   ─► each subscription's   (1 out at once)                     MessageGroupId = this transport
 *
 * Inboxes and subscriptions are FIFO queues and every transport is a message group of its own,
 * so what one transport sends to one of them arrives in the order sent. A payload for an inbox
 * or a subscription that is gone is dropped, as the contract says; a queue is made when missing.
 */
import type { SqsApi } from './api.js';
import { isMissingQueue } from './api.js';
import { MAX_MESSAGE_BYTES, type OutgoingMessage } from './attributes.js';
import { Batcher } from './batcher.js';
import type { Queues } from './queues.js';

/** SendMessageBatch requests out at once to one queue. */
const QUEUE_IN_FLIGHT = 8;
/** Inbox URLs remembered (an answering worker sends to the same few inboxes again and again). */
const INBOX_URLS = 1024;

export class Outbox {
  readonly #api: SqsApi;
  readonly #queues: Queues;
  /** This transport's FIFO message group. */
  readonly #group: string;
  readonly #batchers = new Map<string, Batcher<OutgoingMessage>>();
  /** Inbox queue name → its URL (undefined: gone). */
  readonly #inboxUrls = new Map<string, Promise<string | undefined>>();

  constructor(api: SqsApi, queues: Queues, group: string) {
    this.#api = api;
    this.#queues = queues;
    this.#group = group;
  }

  toQueue(queue: string, message: OutgoingMessage): Promise<void> {
    return this.#batcher(`q:${queue}`, QUEUE_IN_FLIGHT, async (messages) => {
      try {
        return await this.#api.sendBatch(await this.#queues.ensure(queue), messages);
      } catch (error) {
        if (!isMissingQueue(error)) throw error;
        // Deleted since we looked it up: make it again, once.
        this.#queues.forget(queue);
        return this.#api.sendBatch(await this.#queues.ensure(queue), messages);
      }
    }).add(message);
  }

  /** To an inbox by its queue's name; dropped when the inbox is closed. */
  toInbox(name: string, message: OutgoingMessage): Promise<void> {
    return this.#batcher(`i:${name}`, 1, async (messages) => {
      const url = await this.#inboxUrl(name);
      if (url === undefined) return [];
      return this.#dropWhenMissing(url, messages, () => this.#inboxUrls.delete(name));
    }).add(message);
  }

  /** To a topic's subscription queue; dropped when the subscription is gone. */
  toSubscription(url: string, message: OutgoingMessage): Promise<void> {
    return this.#batcher(`s:${url}`, 1, (messages) => this.#dropWhenMissing(url, messages)).add(message);
  }

  /** Resolves once everything sent so far is settled. */
  async whenIdle(): Promise<void> {
    await Promise.all([...this.#batchers.values()].map((batcher) => batcher.whenIdle()));
  }

  async #dropWhenMissing(url: string, messages: OutgoingMessage[], onMissing?: () => void): Promise<(Error | undefined)[]> {
    try {
      return await this.#api.sendBatch(url, messages, this.#group);
    } catch (error) {
      if (!isMissingQueue(error)) throw error;
      onMissing?.();
      return [];
    }
  }

  #inboxUrl(name: string): Promise<string | undefined> {
    let url = this.#inboxUrls.get(name);
    if (!url) {
      if (this.#inboxUrls.size >= INBOX_URLS) this.#inboxUrls.delete(this.#inboxUrls.keys().next().value!);
      url = this.#api.queueUrl(name);
      this.#inboxUrls.set(name, url);
      // A gone inbox is looked up again next time (it may be made again: a paused process's).
      url.then((found) => found === undefined && this.#inboxUrls.delete(name), () => this.#inboxUrls.delete(name));
    }
    return url;
  }

  #batcher(key: string, maxInFlight: number, run: (messages: OutgoingMessage[]) => Promise<(Error | undefined)[]>): Batcher<OutgoingMessage> {
    let batcher = this.#batchers.get(key);
    if (!batcher) {
      const made: Batcher<OutgoingMessage> = new Batcher<OutgoingMessage>({
        run,
        maxInFlight,
        bytes: (message) => message.bytes,
        maxBytes: MAX_MESSAGE_BYTES,
        onIdle: () => {
          if (this.#batchers.get(key) === made) this.#batchers.delete(key);
        },
      });
      batcher = made;
      this.#batchers.set(key, batcher);
    }
    return batcher;
  }
}
