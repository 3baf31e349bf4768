import { ConnectionClosedError } from '../core/errors.js';
import {
  CONTENT_TYPE, type BrokerTransport, type Delivery, type PayloadListener, type TransportConsumer, type TransportProperties, type TransportSubscription,
} from './transport.js';
import type { QueueStats } from './types.js';

/**
 * A broker inside this process (`memory://NAME`): every client opened with the same NAME shares
 * its queues. It keeps the transport contract exactly (one consumer per message, prefetch,
 * requeue with `redelivered`, a closed client's unsettled messages delivered again), so it
 * serves tests and single-process programs, and proves the conformance suite itself.
 */
interface Stored extends TransportProperties {
  payload: Uint8Array;
  redelivered: boolean;
}

interface MemoryConsumer {
  prefetch: number;
  unsettled: number;
  active: boolean;
  owner: MemoryTransport;
  onDelivery(delivery: Delivery): void;
}

class MemoryQueue {
  messages: Stored[] = [];
  consumers: MemoryConsumer[] = [];
  /** Delivered and not settled, at every consumer (also cancelled ones) together. */
  unacked = 0;
  #next = 0;
  #scheduled = false;

  /** Hands out what waits, round robin, each consumer up to its prefetch; in a later turn, as servers do. */
  pump(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      while (this.messages.length > 0) {
        const consumer = this.#nextReady();
        if (!consumer) return;
        consumer.owner.deliver(this, consumer, this.messages.shift()!);
      }
    });
  }

  #nextReady(): MemoryConsumer | undefined {
    for (let i = 0; i < this.consumers.length; i++) {
      const consumer = this.consumers[(this.#next + i) % this.consumers.length]!;
      if (consumer.active && consumer.unsettled < consumer.prefetch) {
        this.#next = (this.#next + i + 1) % this.consumers.length;
        return consumer;
      }
    }
    return undefined;
  }
}

class MemoryBroker {
  queues = new Map<string, MemoryQueue>();
  inboxes = new Map<string, PayloadListener<[correlationId: string | undefined]>>();
  /** Each topic's subscriptions now: a broadcast reaches those, later ones never see it. */
  topics = new Map<string, Set<PayloadListener>>();
  nextInbox = 0;

  queue(name: string): MemoryQueue {
    let queue = this.queues.get(name);
    if (!queue) this.queues.set(name, (queue = new MemoryQueue()));
    return queue;
  }
}

const brokers = new Map<string, MemoryBroker>();
const INBOX_PREFIX = 'memory-inbox:';

export class MemoryTransport implements BrokerTransport {
  readonly kind = 'memory';
  #broker: MemoryBroker;
  #closed = false;
  #consumers = new Set<{ queue: MemoryQueue; consumer: MemoryConsumer }>();
  /** Deliveries handed out and not settled: requeued when this client closes. */
  #unsettled = new Set<{ queue: MemoryQueue; message: Stored; settle(): boolean }>();
  #inboxes = new Set<string>();
  /** Cancels this client's topic subscriptions. */
  #subscriptions = new Set<() => void>();

  constructor(name: string) {
    let broker = brokers.get(name);
    if (!broker) brokers.set(name, (broker = new MemoryBroker()));
    this.#broker = broker;
  }

  async publish(queue: string, payload: Uint8Array, properties: TransportProperties): Promise<void> {
    this.#checkOpen();
    const target = this.#broker.queue(queue);
    // A copy: the caller may reuse its buffer, as it could with a network broker.
    target.messages.push({
      ...properties,
      contentType: properties.contentType ?? CONTENT_TYPE,
      payload: Uint8Array.prototype.slice.call(payload),
      redelivered: false,
    });
    target.pump();
  }

  async consume(queueName: string, prefetch: number, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    this.#checkOpen();
    const queue = this.#broker.queue(queueName);
    const consumer: MemoryConsumer = { prefetch, unsettled: 0, active: true, owner: this, onDelivery };
    const entry = { queue, consumer };
    queue.consumers.push(consumer);
    this.#consumers.add(entry);
    queue.pump();
    return {
      cancel: async () => {
        consumer.active = false;
        queue.consumers = queue.consumers.filter((c) => c !== consumer);
        this.#consumers.delete(entry);
      },
    };
  }

  deliver(queue: MemoryQueue, consumer: MemoryConsumer, message: Stored): void {
    consumer.unsettled++;
    queue.unacked++;
    let settled = false;
    const record = {
      queue,
      message,
      settle: () => {
        if (settled) return false;
        settled = true;
        consumer.unsettled--;
        queue.unacked--;
        this.#unsettled.delete(record);
        queue.pump();
        return true;
      },
    };
    this.#unsettled.add(record);
    consumer.onDelivery({
      payload: message.payload,
      headers: { ...message.headers },
      replyTo: message.replyTo,
      correlationId: message.correlationId,
      contentType: message.contentType,
      redelivered: message.redelivered,
      ack: async () => {
        this.#checkOpen();
        record.settle();
      },
      nack: async (requeue) => {
        this.#checkOpen();
        if (record.settle() && requeue) this.#requeue(queue, message);
      },
    });
  }

  async openInbox(onReply: PayloadListener<[correlationId: string | undefined]>): Promise<string> {
    this.#checkOpen();
    const address = `${INBOX_PREFIX}${++this.#broker.nextInbox}`;
    this.#broker.inboxes.set(address, onReply);
    this.#inboxes.add(address);
    return address;
  }

  async closeInbox(address: string): Promise<void> {
    if (!this.#inboxes.delete(address)) return;
    this.#broker.inboxes.delete(address);
  }

  async reply(replyTo: string, payload: Uint8Array, correlationId: string | undefined): Promise<void> {
    this.#checkOpen();
    if (!replyTo.startsWith(INBOX_PREFIX)) return this.publish(replyTo, payload, { correlationId });
    const inbox = this.#broker.inboxes.get(replyTo);
    const copy = Uint8Array.prototype.slice.call(payload);
    // Dropped when the inbox is gone, also if it closes before this turn comes. setImmediate
    // keeps the order of one sender's payloads.
    if (inbox) setImmediate(() => this.#broker.inboxes.get(replyTo) === inbox && inbox(copy, CONTENT_TYPE, correlationId));
  }

  async queueStats(name: string): Promise<QueueStats> {
    this.#checkOpen();
    const queue = this.#broker.queues.get(name);
    if (!queue) return { waiting: 0, unacked: 0, consumers: 0 };
    return { waiting: queue.messages.length, unacked: queue.unacked, consumers: queue.consumers.filter((c) => c.active).length };
  }

  async broadcast(topic: string, payload: Uint8Array): Promise<void> {
    this.#checkOpen();
    const subscribers = this.#broker.topics.get(topic);
    if (!subscribers) return;
    const copy = Uint8Array.prototype.slice.call(payload);
    for (const subscriber of subscribers) {
      // In a later turn, as from a server; one that cancels meanwhile does not get it.
      setImmediate(() => subscribers.has(subscriber) && subscriber(copy, CONTENT_TYPE));
    }
  }

  async subscribe(topic: string, onPayload: PayloadListener): Promise<TransportSubscription> {
    this.#checkOpen();
    let subscribers = this.#broker.topics.get(topic);
    if (!subscribers) this.#broker.topics.set(topic, (subscribers = new Set()));
    // A wrapper per subscription: the same callback may subscribe twice and is then called twice.
    const subscriber: PayloadListener = (payload, contentType) => onPayload(payload, contentType);
    subscribers.add(subscriber);
    const cancel = (): void => {
      subscribers.delete(subscriber);
      if (subscribers.size === 0 && this.#broker.topics.get(topic) === subscribers) this.#broker.topics.delete(topic);
      this.#subscriptions.delete(cancel);
    };
    this.#subscriptions.add(cancel);
    return { cancel: async () => cancel() };
  }

  onLost(): void {
    // Nothing to lose: the broker lives in this process.
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const { queue, consumer } of this.#consumers) {
      consumer.active = false;
      queue.consumers = queue.consumers.filter((c) => c !== consumer);
    }
    this.#consumers.clear();
    for (const record of [...this.#unsettled]) {
      if (record.settle()) this.#requeue(record.queue, record.message);
    }
    for (const address of this.#inboxes) this.#broker.inboxes.delete(address);
    this.#inboxes.clear();
    for (const cancel of [...this.#subscriptions]) cancel();
  }

  #requeue(queue: MemoryQueue, message: Stored): void {
    queue.messages.push({ ...message, redelivered: true });
    queue.pump();
  }

  #checkOpen(): void {
    if (this.#closed) throw new ConnectionClosedError('the memory broker client is closed');
  }
}
