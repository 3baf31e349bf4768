/**
 * Inboxes and topics on SQS, which has neither (SNS, AWS's fan-out, is not used):
 *
 *   openInbox()   a FIFO queue `<prefix>__i<random>.fifo` of its own, read by a QueueListener;
 *                 its address is `weft:inbox:<that name>`; closeInbox() and close() delete it
 *   subscribe(t)  a FIFO queue `<prefix>__t<t>__<random>.fifo` of its own, read the same way;
 *                 cancel() and close() delete it
 *   broadcast(t)  ListQueues on `<prefix>__t<t>__`, then the payload to each queue found
 *
 * FIFO queues with this transport as the message group keep each sender's order. Payloads are
 * kept 60 s (SQS's least), so nothing piles up in a queue nobody reads any more. A process that
 * dies leaves its queues behind: each carries the tag `weft-alive` (ms since 1970), renewed by
 * its owner every minute; opening an inbox or subscribing sweeps up to 20 queues of the same
 * kind whose tag is over 10 minutes old.
 */
import { randomInt } from 'node:crypto';
import type { PayloadListener, TransportSubscription } from '../transport.js';
import type { SqsApi } from './api.js';
import { decode, markedOnly, type IncomingMessage, type OutgoingMessage } from './attributes.js';
import { QueueListener } from './listener.js';
import { inboxPrefix, isInboxName, nameOfUrl, newInboxName, newSubscriptionName, topicPrefix } from './names.js';
import type { Outbox } from './outbox.js';

export const INBOX_ADDRESS = 'weft:inbox:';
const ALIVE_TAG = 'weft-alive';
const ALIVE_EVERY_MS = 60_000;
const STALE_MS = 10 * 60_000;
/** Queues a sweep looks at, at most: a bounded cost for each inbox or subscription opened. */
const SWEEP_SAMPLE = 20;
const ATTRIBUTES = {
  FifoQueue: 'true',
  MessageRetentionPeriod: '60',
  // AWS's high-throughput FIFO mode: the limits apply per message group (per sender), not per queue.
  DeduplicationScope: 'messageGroup',
  FifoThroughputLimit: 'perMessageGroupId',
};

export interface ChannelSettings {
  prefix: string;
  connectTimeout: number;
  /** Checks the transport is open before each call; throws its error when not. */
  ensureOpen(): void;
  /** A message too large for SQS throws here, before anything is sent. */
  checkSize(message: OutgoingMessage, what: string): void;
}

export class Channels {
  readonly #api: SqsApi;
  readonly #outbox: Outbox;
  readonly #settings: ChannelSettings;
  /** Inbox address or subscription queue name → its listener. */
  readonly #listeners = new Map<string, QueueListener>();
  readonly #topicOrder = new Map<string, Promise<unknown>>();
  readonly #swept = new Set<string>();
  readonly #alive: NodeJS.Timeout;
  #closed = false;

  constructor(api: SqsApi, outbox: Outbox, settings: ChannelSettings) {
    this.#api = api;
    this.#outbox = outbox;
    this.#settings = settings;
    this.#alive = setInterval(() => void this.#markAlive(), ALIVE_EVERY_MS);
    this.#alive.unref();
  }

  async openInbox(onReply: PayloadListener<[correlationId: string | undefined]>): Promise<string> {
    const name = newInboxName(this.#settings.prefix);
    const listener = await this.#listen(name, (message) => {
      const { payload, contentType, properties } = decode(message);
      onReply(payload, contentType, properties.correlationId);
    });
    const address = INBOX_ADDRESS + name;
    this.#listeners.set(address, listener);
    this.#sweep(inboxPrefix(this.#settings.prefix));
    return address;
  }

  async closeInbox(address: string): Promise<void> {
    const listener = this.#listeners.get(address);
    if (!listener) return;
    this.#listeners.delete(address);
    await this.#end(listener);
  }

  /** Sends to an inbox; undefined when `address` is not an inbox's (a queue name, then). */
  reply(address: string, payload: Uint8Array, correlationId: string | undefined): Promise<void> | undefined {
    if (!address.startsWith(INBOX_ADDRESS)) return undefined;
    const name = address.slice(INBOX_ADDRESS.length);
    // Not a name weft makes (another program's replyTo): nobody listens there; dropped.
    if (!isInboxName(name)) return Promise.resolve();
    const message = markedOnly(payload, correlationId);
    this.#settings.checkSize(message, `the answer to ${address}`);
    return this.#outbox.toInbox(name, message);
  }

  /** Resolves once every subscription found has the payload; broadcasts of one topic list and send in order. */
  async broadcast(topic: string, payload: Uint8Array): Promise<void> {
    const message = markedOnly(payload);
    this.#settings.checkSize(message, `the broadcast to ${topic}`);
    const previous = this.#topicOrder.get(topic) ?? Promise.resolve();
    const sends = previous.then(async () => {
      const urls = await this.#api.listQueues(topicPrefix(this.#settings.prefix, topic));
      return urls.map((url) => this.#outbox.toSubscription(url, message));
    });
    const listed = sends.catch(() => undefined);
    this.#topicOrder.set(topic, listed);
    void listed.then(() => this.#topicOrder.get(topic) === listed && this.#topicOrder.delete(topic));
    await Promise.all(await sends);
  }

  async subscribe(topic: string, onPayload: PayloadListener): Promise<TransportSubscription> {
    const name = newSubscriptionName(this.#settings.prefix, topic);
    const listener = await this.#listen(name, (message) => {
      const { payload, contentType } = decode(message);
      onPayload(payload, contentType);
    });
    this.#listeners.set(name, listener);
    try {
      await this.#listed(name);
    } catch (error) {
      this.#listeners.delete(name);
      await this.#end(listener).catch(() => undefined);
      throw error;
    }
    this.#sweep(topicPrefix(this.#settings.prefix, topic));
    let cancelled: Promise<void> | undefined;
    return {
      cancel: () => cancelled ??= (async () => {
        if (this.#listeners.get(name) !== listener) return;
        this.#listeners.delete(name);
        await this.#end(listener);
      })(),
    };
  }

  /** Closing: every listener stops and its queue is deleted. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#alive);
    const listeners = [...this.#listeners.values()];
    this.#listeners.clear();
    await Promise.allSettled(listeners.map((listener) => this.#end(listener)));
  }

  /** Lost: the listeners stop; their queues stay (the sweep finds them). */
  abort(): void {
    this.#closed = true;
    clearInterval(this.#alive);
    for (const listener of this.#listeners.values()) void listener.stop();
    this.#listeners.clear();
  }

  async #listen(name: string, onMessage: (message: IncomingMessage) => void): Promise<QueueListener> {
    const make = () => this.#api.createQueue(name, ATTRIBUTES, { [ALIVE_TAG]: String(Date.now()) });
    const url = await make();
    return new QueueListener(this.#api, url, make, onMessage);
  }

  async #end(listener: QueueListener): Promise<void> {
    await listener.stop();
    await this.#api.deleteQueue(listener.url, AbortSignal.timeout(this.#settings.connectTimeout));
  }

  /**
   * Waits (up to connectTimeout) until ListQueues shows the new queue: a broadcast that lists
   * the topic afterwards finds it. AWS lists a new queue after a moment; an emulator at once.
   */
  async #listed(name: string): Promise<void> {
    const deadline = Date.now() + this.#settings.connectTimeout;
    while (!(await this.#api.listQueues(name)).some((url) => nameOfUrl(url) === name) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async #markAlive(): Promise<void> {
    const tags = { [ALIVE_TAG]: String(Date.now()) };
    await Promise.allSettled([...this.#listeners.values()].map((listener) => this.#api.tag(listener.url, tags)));
  }

  /** Deletes some queues under `prefix` whose owner has not marked them alive for STALE_MS; once per prefix and transport, in the background. */
  #sweep(prefix: string): void {
    if (this.#swept.has(prefix)) return;
    this.#swept.add(prefix);
    void (async () => {
      const ours = new Set([...this.#listeners.values()].map((listener) => listener.url));
      const others = (await this.#api.listQueues(prefix)).filter((url) => !ours.has(url));
      for (let i = 0; i < Math.min(SWEEP_SAMPLE, others.length) && !this.#closed; i++) {
        const pick = i + randomInt(others.length - i);
        [others[i], others[pick]] = [others[pick]!, others[i]!];
        const alive = Number((await this.#api.tags(others[i]!))[ALIVE_TAG]);
        if (Number.isFinite(alive) && Date.now() - alive > STALE_MS) await this.#api.deleteQueue(others[i]!);
      }
    })().catch(() => undefined);
  }
}
