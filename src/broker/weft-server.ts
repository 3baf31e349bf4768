import { randomBytes } from 'node:crypto';
import { taskContext } from '../core/context.js';
import { expected } from '../core/validate.js';
import { byRef, serve, type RpcServer } from '../remote/rpc.js';
import type { ListenOptions } from '../remote/listener.js';
import { MemoryTransport } from './memory.js';
import type { Delivery, TransportConsumer, TransportProperties, TransportSubscription } from './transport.js';
import type { QueueStats } from './types.js';

/**
 * weft's own broker (`weft broker`, `weft://` URLs): the memory broker's queues, served to
 * clients over weft's authenticated RPC protocol. Each client opens a session; the server gives
 * it deliveries by calling a sink the client lends (byRef), and the client settles them by id.
 * A session ends with its connection: the client holds one call open (hold()) whose signal
 * aborts when the connection drops, and then its unsettled messages go back to their queues.
 * The queues live in the server's memory: they do not survive the server.
 */
export interface BrokerServerOptions extends ListenOptions {}

/** What a client lends the server to receive deliveries. */
export interface DeliverySink {
  deliver(id: number, payload: Uint8Array, properties: TransportProperties & { redelivered: boolean }): void;
}

/** What a client lends the server to receive its inbox's answers. */
export interface ReplySink {
  answer(payload: Uint8Array, correlationId: string | undefined, contentType: string | undefined): void;
}

/** What a client lends the server to receive a topic's broadcasts. */
export interface TopicSink {
  receive(payload: Uint8Array, contentType: string | undefined): void;
}

export class BrokerSession {
  #transport: MemoryTransport;
  #deliveries = new Map<number, Delivery>();
  #consumers = new Map<number, TransportConsumer>();
  #subscriptions = new Map<number, TransportSubscription>();
  #nextId = 0;

  constructor(brokerName: string) {
    this.#transport = new MemoryTransport(brokerName);
  }

  async publish(queue: string, payload: Uint8Array, properties: TransportProperties): Promise<void> {
    checkQueue(queue);
    checkPayload(payload);
    await this.#transport.publish(queue, payload, checkProperties(properties));
  }

  async consume(queue: string, prefetch: number, sink: DeliverySink): Promise<number> {
    checkQueue(queue);
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new RangeError(expected('prefetch', 'a positive integer', prefetch));
    const consumerId = ++this.#nextId;
    const consumer = await this.#transport.consume(queue, prefetch, (delivery) => {
      const id = ++this.#nextId;
      this.#deliveries.set(id, delivery);
      const { payload, replyTo, correlationId, contentType, headers, redelivered } = delivery;
      // Not awaited: the client answers with settle(). A sink that cannot be reached means the
      // connection is going, and closing the session puts the message back.
      (sink.deliver(id, payload, { replyTo, correlationId, contentType, headers, redelivered }) as unknown as PromiseLike<void>).then(undefined, () => {});
    });
    this.#consumers.set(consumerId, consumer);
    return consumerId;
  }

  /** ack when `requeue` is null, else nack. */
  async settle(id: number, requeue: boolean | null): Promise<void> {
    const delivery = this.#deliveries.get(id);
    if (!delivery) throw new ReferenceError(`there is no unsettled delivery #${id} in this session`);
    this.#deliveries.delete(id);
    await (requeue === null ? delivery.ack() : delivery.nack(requeue === true));
  }

  async cancel(consumerId: number): Promise<void> {
    const consumer = this.#consumers.get(consumerId);
    this.#consumers.delete(consumerId);
    await consumer?.cancel();
  }

  async openInbox(sink: ReplySink): Promise<string> {
    return this.#transport.openInbox((payload, contentType, correlationId) => {
      (sink.answer(payload, correlationId, contentType) as unknown as PromiseLike<void>).then(undefined, () => {});
    });
  }

  async closeInbox(address: string): Promise<void> {
    checkQueue(address);
    await this.#transport.closeInbox(address);
  }

  async reply(replyTo: string, payload: Uint8Array, correlationId: string | undefined): Promise<void> {
    checkQueue(replyTo);
    checkPayload(payload);
    await this.#transport.reply(replyTo, payload, correlationId);
  }

  async queueStats(queue: string): Promise<QueueStats> {
    checkQueue(queue);
    return this.#transport.queueStats(queue);
  }

  async broadcast(topic: string, payload: Uint8Array): Promise<void> {
    checkQueue(topic, 'topic');
    checkPayload(payload);
    await this.#transport.broadcast(topic, payload);
  }

  async subscribe(topic: string, sink: TopicSink): Promise<number> {
    checkQueue(topic, 'topic');
    const id = ++this.#nextId;
    const subscription = await this.#transport.subscribe(topic, (payload, contentType) => {
      (sink.receive(payload, contentType) as unknown as PromiseLike<void>).then(undefined, () => {});
    });
    this.#subscriptions.set(id, subscription);
    return id;
  }

  async unsubscribe(subscriptionId: number): Promise<void> {
    const subscription = this.#subscriptions.get(subscriptionId);
    this.#subscriptions.delete(subscriptionId);
    await subscription?.cancel();
  }

  /** Resolves when the client's connection ends, after giving back what it held. */
  async hold(): Promise<void> {
    const { signal } = taskContext();
    if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    await this.#transport.close();
  }
}

/** Serves a broker; `weft://:AUTHKEY@HOST:PORT` URLs reach it through openBroker(). */
export async function serveBroker(options: BrokerServerOptions): Promise<RpcServer> {
  const name = `weft-broker-${randomBytes(8).toString('hex')}`;
  return serve({ ...options, expose: { open: () => byRef(new BrokerSession(name)) } });
}

function checkQueue(queue: unknown, what = 'queue'): void {
  if (typeof queue !== 'string' || queue === '') throw new TypeError(expected(what, `a ${what} name`, queue));
}

function checkPayload(payload: unknown): void {
  if (!(payload instanceof Uint8Array)) throw new TypeError(expected('payload', 'bytes', payload));
}

function checkProperties(value: unknown): TransportProperties {
  if (typeof value !== 'object' || value === null) throw new TypeError(expected('properties', 'an object', value));
  const { replyTo, correlationId, contentType, headers } = value as TransportProperties;
  if (replyTo !== undefined && typeof replyTo !== 'string') throw new TypeError(expected('replyTo', 'a string', replyTo));
  if (correlationId !== undefined && typeof correlationId !== 'string') throw new TypeError(expected('correlationId', 'a string', correlationId));
  if (contentType !== undefined && typeof contentType !== 'string') throw new TypeError(expected('contentType', 'a string', contentType));
  if (headers !== undefined && (typeof headers !== 'object' || headers === null)) throw new TypeError(expected('headers', 'an object', headers));
  return { replyTo, correlationId, contentType, headers };
}
