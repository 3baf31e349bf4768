/**
 * The Kafka adapter (kafkajs). Each weft queue is a topic (`weft.q.<name>`) read by one consumer
 * group per queue, whose members are weft consumers; an ack commits the contiguous run of
 * settled offsets of a partition. A requeue publishes a copy to the queue's retry topic
 * `weft.retry.<name>` (header `weft-attempt`: attempt + 1), which the same group reads beside
 * the queue's topic, then settles the original; a rejected message, or one past
 * `?maxAttempts=`, is copied to the dead-letter topic
 * `weft.dlq.<name>` with its reason. Inboxes are one topic per transport read from its start
 * (request/reply: the reply carries the inbox number and the correlationId in headers);
 * broadcast topics are topics read by one group per subscription from the high watermarks it began at.
 *
 * Why a retry topic: a copy put back on the queue's own topic would wait behind its partition's
 * whole backlog; on the retry topic it is handled beside new work (the consumer hands out the
 * partitions of both topics round robin). A nacked record never blocks its partition's commit:
 * it is settled once its copy is on the server.
 *
 * Files: transport.ts (this: the clients, publishing, inboxes, topics, closing), consumer.ts (a
 * queue consumer: prefetch, commits, rebalances), partition.ts (one partition's records and
 * committed offset), assignor.ts (partitions stay with the member holding their records),
 * listener.ts (inboxes' and subscriptions' readers), topics.ts (making topics, queueStats),
 * headers.ts (properties in record headers), names.ts (topic and group names), client.ts
 * (kafkajs, settings, errors).
 */
import { randomBytes } from 'node:crypto';
import type { Admin, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { ConnectionClosedError } from '../../core/errors.js';
import type {
  BrokerTransport, Delivery, PayloadListener, TransportConsumer, TransportOptions, TransportProperties, TransportSubscription,
} from '../transport.js';
import { CONTENT_TYPE } from '../transport.js';
import type { QueueStats } from '../types.js';
import { createKafka, isConnectionError, kafkaSettings, loadKafkaJs, messageOf, type KafkaJs, type KafkaSettings } from './client.js';
import { KafkaQueueConsumer } from './consumer.js';
import {
  ATTEMPT, CONTENT_TYPE_HEADER, CORRELATION_ID, DEAD_QUEUE, DEAD_REASON, INBOX, contentTypeOf, encodeHeaders, headerText, withHeaders,
} from './headers.js';
import { TopicListener } from './listener.js';
import { Publisher, type OutgoingRecord } from './publisher.js';
import { broadcastTopic, deadLetterTopic, inboxAddress, inboxTopic, parseInboxAddress, queueGroup, queueTopic, retryTopic } from './names.js';
import { Topics } from './topics.js';

export async function openKafkaTransport(url: URL, options: TransportOptions): Promise<BrokerTransport> {
  const settings = kafkaSettings(url, options);
  const kafkajs = await loadKafkaJs();
  const clientId = randomBytes(8).toString('hex');
  const kafka = createKafka(kafkajs, settings, clientId);
  // Topics are made by Topics.ensure() (CreateTopics, or auto-creation through the admin's
  // metadata request): the producer itself never makes one (a reply to a gone inbox must not).
  const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  const admin = kafka.admin();
  const where = settings.brokers.join(',');
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all([producer.connect(), admin.connect()]),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${settings.connectTimeout} ms`)), settings.connectTimeout);
      }),
    ]);
  } catch (error) {
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    throw new ConnectionClosedError(`cannot connect to Kafka at ${where}: ${messageOf(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  return new KafkaTransport({ kafkajs, kafka, producer, admin, settings, clientId, where });
}

interface Clients {
  kafkajs: KafkaJs;
  kafka: Kafka;
  producer: Producer;
  admin: Admin;
  settings: KafkaSettings;
  clientId: string;
  where: string;
}

interface Inboxes {
  listener: TopicListener;
  /** Open inboxes of this transport by number. */
  open: Map<string, PayloadListener<[correlationId: string | undefined]>>;
}

export class KafkaTransport implements BrokerTransport {
  readonly kind = 'kafka';
  readonly maxPayload: number;
  readonly #clients: Clients;
  readonly #topics: Topics;
  /** Queues, dead letters, broadcasts: in order, batched. */
  readonly #publisher: Publisher;
  /** Replies to inboxes: apart, so that one to a gone inbox fails alone. */
  readonly #replies: Publisher;
  readonly #consumers = new Set<KafkaQueueConsumer>();
  readonly #subscriptions = new Set<TopicListener>();
  #inboxes: Promise<Inboxes> | undefined;
  #nextInbox = 0;
  #nextSubscription = 0;
  readonly #lostListeners: ((error: Error) => void)[] = [];
  #ended: Error | undefined;
  #lost: Error | undefined;
  #probe: Promise<boolean> | undefined;

  constructor(clients: Clients) {
    this.#clients = clients;
    this.maxPayload = clients.settings.maxPayload;
    this.#topics = new Topics(clients.admin, clients.settings.partitions);
    this.#publisher = new Publisher(clients.producer, clients.settings.maxPayload);
    this.#replies = new Publisher(clients.producer, clients.settings.maxPayload);
  }

  async publish(queue: string, payload: Uint8Array, properties: TransportProperties): Promise<void> {
    await this.#send(queueTopic(queue), { value: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), headers: encodeHeaders(properties) });
  }

  async consume(queue: string, prefetch: number, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    this.#ensureOpen();
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new RangeError(`prefetch must be a positive integer, got ${prefetch}`);
    const topic = queueTopic(queue);
    const retries = retryTopic(queue);
    await this.#call(Promise.all([this.#topics.ensure(topic), this.#topics.ensure(retries)]), `make the topics ${topic} and ${retries}`);
    const { kafkajs, kafka, admin, settings } = this.#clients;
    const consumer = new KafkaQueueConsumer({
      kafkajs, kafka, admin, settings, queue, topic, retryTopic: retries, groupId: queueGroup(queue), prefetch, onDelivery,
      requeue: (message, attempt) => this.#send(retries, copyOf(message, { [ATTEMPT]: String(attempt) })),
      deadLetter: (message, reason) => this.#send(deadLetterTopic(queue), copyOf(message, { [DEAD_REASON]: reason, [DEAD_QUEUE]: queue })),
      ensureOpen: () => this.#ensureOpen(),
      reachable: () => this.#reachable(),
      lost: (error) => this.#lose(error),
      // A cancelled consumer stays a member (and is closed with the transport) until its
      // messages are settled.
      left: () => this.#consumers.delete(consumer),
    });
    this.#consumers.add(consumer);
    try {
      await this.#call(consumer.start(), `join the consumer group of ${topic}`);
    } catch (error) {
      this.#consumers.delete(consumer);
      throw error;
    }
    return {
      cancel: () => consumer.cancel(),
    };
  }

  async openInbox(onReply: PayloadListener<[correlationId: string | undefined]>): Promise<string> {
    this.#ensureOpen();
    const inboxes = await this.#call(this.#inboxes ??= this.#startInboxes(), 'open the inbox topic');
    this.#ensureOpen();
    const n = ++this.#nextInbox;
    inboxes.open.set(String(n), onReply);
    return inboxAddress(this.#clients.clientId, n);
  }

  async closeInbox(address: string): Promise<void> {
    this.#ensureOpen();
    const parsed = parseInboxAddress(address);
    if (!parsed || parsed.clientId !== this.#clients.clientId || !this.#inboxes) return;
    (await this.#inboxes).open.delete(address.slice(address.lastIndexOf('.') + 1));
  }

  async reply(replyTo: string, payload: Uint8Array, correlationId: string | undefined): Promise<void> {
    const inbox = parseInboxAddress(replyTo);
    if (!inbox) return this.publish(replyTo, payload, { correlationId });
    const headers: IHeaders = { [CONTENT_TYPE_HEADER]: CONTENT_TYPE, [INBOX]: replyTo.slice(replyTo.lastIndexOf('.') + 1) };
    if (correlationId !== undefined) headers[CORRELATION_ID] = correlationId;
    try {
      // Keyed by the address: one partition, so one sender's payloads arrive in order.
      await this.#send(inbox.topic, { key: replyTo, value: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), headers }, this.#replies);
    } catch (error) {
      // An inbox whose topic is gone (its transport closed) drops what is sent to it.
      if (this.#ended || isConnectionError(error)) throw error;
    }
  }

  queueStats(queue: string): Promise<QueueStats> {
    this.#ensureOpen();
    return this.#call(this.#topics.stats(queue), `read the offsets of ${queueTopic(queue)}`);
  }

  async broadcast(topic: string, payload: Uint8Array): Promise<void> {
    // Keyed by this transport: one partition, so this connection's broadcasts arrive in order.
    await this.#send(broadcastTopic(topic), {
      key: this.#clients.clientId,
      value: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
      headers: { [CONTENT_TYPE_HEADER]: CONTENT_TYPE },
    });
  }

  async subscribe(topic: string, onPayload: PayloadListener): Promise<TransportSubscription> {
    this.#ensureOpen();
    const kafkaTopic = broadcastTopic(topic);
    await this.#call(this.#topics.ensure(kafkaTopic), `make the topic ${kafkaTopic}`);
    // What the server has taken so far is not for this subscription: it begins at the high watermarks.
    const offsets = await this.#call(this.#clients.admin.fetchTopicOffsets(kafkaTopic), `read the offsets of ${kafkaTopic}`);
    const { kafka, settings, clientId } = this.#clients;
    let cancelled = false;
    const listener = new TopicListener({
      kafka, topic: kafkaTopic, groupId: `weft.sub.${clientId}.${++this.#nextSubscription}`,
      positions: new Map(offsets.map(({ partition, high }) => [partition, Number(high)])),
      sessionTimeout: settings.sessionTimeout, heartbeatInterval: settings.heartbeatInterval,
      reachable: () => this.#reachable(),
      onRecord: (message) => {
        if (cancelled) return;
        const value = message.value ?? Buffer.alloc(0);
        onPayload(new Uint8Array(value.buffer, value.byteOffset, value.byteLength), contentTypeOf(message.headers));
      },
      lost: (error) => this.#lose(error),
    });
    this.#subscriptions.add(listener);
    try {
      await this.#call(listener.start(), `read ${kafkaTopic}`);
    } catch (error) {
      this.#subscriptions.delete(listener);
      await listener.stop();
      throw error;
    }
    let cancelling: Promise<void> | undefined;
    return {
      cancel: () => cancelling ??= (async () => {
        cancelled = true;
        this.#subscriptions.delete(listener);
        await listener.stop();
      })(),
    };
  }

  onLost(listener: (error: Error) => void): void {
    const lost = this.#lost;
    if (lost) queueMicrotask(() => listener(lost));
    else this.#lostListeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.#ended) return;
    this.#ended = new ConnectionClosedError(`the Kafka transport to ${this.#clients.where} is closed`);
    const inboxes = this.#inboxes?.catch(() => undefined);
    await Promise.allSettled([
      ...[...this.#consumers].map((consumer) => consumer.close()),
      ...[...this.#subscriptions].map((listener) => listener.stop()),
      inboxes?.then((i) => i?.listener.stop()),
    ]);
    this.#consumers.clear();
    this.#subscriptions.clear();
    await Promise.allSettled([this.#clients.producer.disconnect(), this.#clients.admin.disconnect()]);
  }

  /** The transport's inbox topic and its reader, made on the first openInbox(). */
  async #startInboxes(): Promise<Inboxes> {
    const { kafka, settings, clientId } = this.#clients;
    const topic = inboxTopic(clientId);
    await this.#topics.ensure(topic);
    const open = new Map<string, PayloadListener<[correlationId: string | undefined]>>();
    const listener = new TopicListener({
      kafka, topic, groupId: topic, positions: new Map(),
      sessionTimeout: settings.sessionTimeout, heartbeatInterval: settings.heartbeatInterval,
      reachable: () => this.#reachable(),
      onRecord: (message) => {
        const onReply = open.get(headerText(message.headers?.[INBOX]) ?? '');
        if (!onReply) return; // closed, or never opened: dropped
        const value = message.value ?? Buffer.alloc(0);
        onReply(new Uint8Array(value.buffer, value.byteOffset, value.byteLength), contentTypeOf(message.headers), headerText(message.headers?.[CORRELATION_ID]));
      },
      lost: (error) => this.#lose(error),
    });
    try {
      await listener.start();
    } catch (error) {
      await listener.stop();
      this.#inboxes = undefined;
      throw error;
    }
    return { listener, open };
  }

  /** Publishes one record; through the main publisher its topic is made first when new (an inbox's exists already). */
  async #send(topic: string, message: OutgoingRecord, publisher = this.#publisher): Promise<void> {
    this.#ensureOpen();
    if (publisher === this.#publisher) await this.#call(this.#topics.ensure(topic), `make the topic ${topic}`);
    try {
      await publisher.send(topic, message);
    } catch (error) {
      throw await this.#failure(error, `send to ${topic}`);
    }
  }

  /** A call to the server; its failure as #failure() says. */
  async #call<T>(operation: Promise<T>, what = 'complete a request'): Promise<T> {
    try {
      return await operation;
    } catch (error) {
      throw await this.#failure(error, what);
    }
  }

  /**
   * The error a failed call rejects with, as the other adapters': the transport's own once it
   * ended (closed, or lost); for a connection error (after kafkajs's retries) a
   * ConnectionClosedError, and the transport is lost unless the cluster still answers (a broker
   * that restarted is no loss); anything else (the server refused the request) as it came.
   */
  async #failure(error: unknown, what: string): Promise<unknown> {
    if (this.#ended) return this.#ended;
    if (!isConnectionError(error)) return error;
    if (!(await this.#reachable())) this.#lose(error as Error);
    if (this.#ended) return this.#ended;
    if (error instanceof ConnectionClosedError) return error;
    return new ConnectionClosedError(`Kafka at ${this.#clients.where}: could not ${what}: ${messageOf(error)}`, { cause: error });
  }

  /**
   * Whether the cluster answers a metadata request (the admin retries a few seconds). Asked when
   * a client of this transport gave up on a connection: a broker that restarted is no loss, a
   * cluster that is gone is. Callers at the same time share one answer.
   */
  #reachable(): Promise<boolean> {
    if (this.#ended) return Promise.resolve(false);
    this.#probe ??= this.#clients.admin.listTopics().then(() => true, () => false).finally(() => (this.#probe = undefined));
    return this.#probe;
  }

  #ensureOpen(): void {
    if (this.#ended) throw this.#ended;
  }

  #lose(cause: Error): void {
    if (this.#ended) return;
    const lost = new ConnectionClosedError(`lost the connection to Kafka at ${this.#clients.where}: ${cause.message}`, { cause });
    this.#ended = lost;
    this.#lost = lost;
    for (const consumer of this.#consumers) consumer.abandon();
    for (const listener of this.#subscriptions) void listener.stop();
    void this.#inboxes?.then((inboxes) => inboxes.listener.stop(), () => undefined);
    void this.#clients.producer.disconnect().catch(() => undefined);
    void this.#clients.admin.disconnect().catch(() => undefined);
    for (const listener of this.#lostListeners.splice(0)) {
      try {
        listener(lost);
      } catch {
        // A listener's failure is its own; the others still hear about the loss.
      }
    }
  }
}

/** A record's copy for a requeue or a dead letter: same key, body and headers, some of weft's replaced. */
function copyOf(message: KafkaMessage, changes: Record<string, string>): OutgoingRecord {
  return {
    ...(message.key ? { key: message.key } : {}),
    value: message.value ?? Buffer.alloc(0),
    headers: withHeaders(message.headers, changes),
  };
}
