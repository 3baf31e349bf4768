/**
 * The RabbitMQ (AMQP 0-9-1) adapter. RabbitMQ does most of the contract by itself: it keeps
 * unacknowledged messages owned by the channel that received them and requeues them (flagged
 * `redelivered`) the moment that channel or its connection goes away, so no redelivery timer
 * is needed here. The adapter's work is mapping the contract onto channels, and keeping
 * amqplib's events from ever crashing the process.
 *
 * Channels: one confirm channel publishes (publish resolves on the server's confirm), one plain
 * channel declares queues (a refused declaration closes only that channel, not the publisher's
 * in-flight confirms), and each consumer and inbox has its own channel (prefetch is per channel).
 * A request (a publish with a correlationId whose replyTo is one of our inboxes, as
 * BrokerClient.request() sends it) goes out on that inbox's direct reply-to channel instead
 * (direct-reply.ts): not persistent, and its answer comes back without a reply queue.
 * A channel the server closes is opened again on next use; the failing call rejects with the
 * server's reason.
 *
 * Files: transport.ts (this: publishing, inboxes, topics), consumer.ts (one consumer's
 * channel), channels.ts (watched and reopening channels), connect.ts (connecting).
 */
import type { Channel, ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { ConnectionClosedError } from '../../core/errors.js';
import {
  CONTENT_TYPE, type BrokerTransport, type Delivery, type PayloadListener, type TransportConsumer, type TransportOptions,
  type TransportProperties, type TransportSubscription,
} from '../transport.js';
import type { QueueStats } from '../types.js';
import { ReopeningChannel, TrackedChannel } from './channels.js';
import { connectWithin, describeUrl, reasonOf } from './connect.js';
import { AmqpConsumer, deliverSafely, toBytes } from './consumer.js';
import { DirectReplyChannel } from './direct-reply.js';

/** Server-named queues (our inboxes, anyone's) start with this; RabbitMQ refuses to declare such names. */
const RESERVED_QUEUE_PREFIX = 'amq.';

export async function openAmqpTransport(url: URL, options: TransportOptions): Promise<BrokerTransport> {
  const model = await connectWithin(url, options.connectTimeout);
  return new AmqpTransport(model, describeUrl(url));
}

export class AmqpTransport implements BrokerTransport {
  readonly kind = 'amqp';
  readonly #model: ChannelModel;
  readonly #where: string;
  readonly #publisher: ReopeningChannel<ConfirmChannel>;
  readonly #declarer: ReopeningChannel<Channel>;
  /** Asks for queues' figures: a passive declare of a missing queue closes its channel, so it has its own. */
  readonly #inspector: ReopeningChannel<Channel>;
  /** Topics' fanout exchanges declared on this connection. */
  readonly #exchanges = new Map<string, Promise<void>>();
  /** Queues declared durable on this connection (promise: concurrent first uses declare once). */
  readonly #declared = new Map<string, Promise<void>>();
  /** This connection's inboxes, each consumed on its own channel. */
  readonly #inboxes = new Map<string, TrackedChannel<Channel>>();
  /** Each inbox's direct reply-to channel, for the requests it asks (opened on the first). */
  readonly #directReplies = new Map<string, DirectReplyChannel>();
  readonly #consumers = new Set<AmqpConsumer>();
  readonly #lostListeners: Array<(error: Error) => void> = [];
  #closing: Promise<void> | undefined;
  #lost: ConnectionClosedError | undefined;

  constructor(model: ChannelModel, where: string) {
    this.#model = model;
    this.#where = where;
    this.#publisher = new ReopeningChannel(() => model.createConfirmChannel());
    this.#declarer = new ReopeningChannel(() => model.createChannel());
    this.#inspector = new ReopeningChannel(() => model.createChannel());
    // 'error' always precedes or accompanies 'close'; 'close' alone decides that the connection is gone.
    let lastError: Error | undefined;
    model.on('error', (error: Error) => {
      lastError = error;
    });
    model.on('close', (error?: Error) => this.#connectionClosed(error ?? lastError));
    model.on('handler-error', () => {});
  }

  async publish(queue: string, payload: Uint8Array, properties: TransportProperties): Promise<void> {
    this.#checkUsable();
    checkQueueName(queue);
    await this.#declare(queue);
    const direct = properties.replyTo === undefined || properties.correlationId === undefined ? undefined : this.#directReplies.get(properties.replyTo);
    if (direct) return this.#sendRequest(direct, queue, payload, properties);
    await this.#send('', queue, payload, {
      persistent: true,
      contentType: properties.contentType ?? CONTENT_TYPE,
      ...(properties.correlationId !== undefined && { correlationId: properties.correlationId }),
      ...(properties.replyTo !== undefined && { replyTo: properties.replyTo }),
      headers: { ...properties.headers },
    });
  }

  async consume(queue: string, prefetch: number, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    this.#checkUsable();
    checkQueueName(queue);
    await this.#declare(queue);
    const consumer = new AmqpConsumer(this.#model, queue, prefetch, onDelivery, () => this.#usable(), (c) => this.#consumers.delete(c));
    await consumer.start();
    this.#consumers.add(consumer);
    return consumer;
  }

  async openInbox(onReply: PayloadListener<[correlationId: string | undefined]>): Promise<string> {
    this.#checkUsable();
    const tracked = await this.#openChannel(() => this.#model.createChannel());
    try {
      const { queue } = await this.#rpc(() => tracked.channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false }), 'open an inbox');
      await this.#rpc(
        () => tracked.channel.consume(queue, (msg) => {
          if (msg) deliverSafely(() => onReply(toBytes(msg.content), msg.properties.contentType ?? undefined, msg.properties.correlationId ?? undefined));
        }, { noAck: true }),
        'consume the inbox',
      );
      this.#inboxes.set(queue, tracked);
      this.#directReplies.set(queue, new DirectReplyChannel(this.#model, onReply));
      return queue;
    } catch (error) {
      await tracked.close();
      throw error;
    }
  }

  async closeInbox(address: string): Promise<void> {
    this.#checkUsable();
    const tracked = this.#inboxes.get(address);
    if (!tracked) return;
    this.#inboxes.delete(address);
    const direct = this.#directReplies.get(address);
    this.#directReplies.delete(address);
    // The queue is exclusive and auto-delete: it goes with its channel.
    await Promise.all([tracked.close(), direct?.close()]);
  }

  async reply(replyTo: string, payload: Uint8Array, correlationId: string | undefined): Promise<void> {
    this.#checkUsable();
    checkQueueName(replyTo);
    // An inbox (ours or another connection's) is server-named and already exists; a plain queue
    // name is declared first, or RabbitMQ would drop the reply.
    if (!this.#inboxes.has(replyTo) && !replyTo.startsWith(RESERVED_QUEUE_PREFIX)) await this.#declare(replyTo);
    await this.#send('', replyTo, payload, {
      contentType: CONTENT_TYPE,
      ...(correlationId !== undefined && { correlationId }),
    });
  }

  /**
   * A passive declare (checkQueue): ready messages and consumers. RabbitMQ tells the
   * unacknowledged count only through its management API, so `unacked` is undefined.
   */
  async queueStats(queue: string): Promise<QueueStats> {
    this.#checkUsable();
    checkQueueName(queue);
    const tracked = await this.#inspector.get().catch((error: unknown) => {
      throw this.#failure(error, 'open a channel');
    });
    try {
      const { messageCount, consumerCount } = await tracked.channel.checkQueue(queue);
      return { waiting: messageCount, unacked: undefined, consumers: consumerCount };
    } catch (error) {
      // 404: no such queue (yet). The server closed the channel; the next call opens another.
      if (/NOT_FOUND|404/.test(reasonOf(error)) && !this.#usable()) return { waiting: 0, unacked: undefined, consumers: 0 };
      throw this.#failure(error, `read the figures of '${queue}'`, tracked);
    }
  }

  /** Resolves on the publisher confirm: the exchange has routed it to the subscriptions' queues there are. */
  async broadcast(topic: string, payload: Uint8Array): Promise<void> {
    this.#checkUsable();
    const exchange = await this.#declareTopic(topic);
    await this.#send(exchange, '', payload, { contentType: CONTENT_TYPE });
  }

  /** A server-named exclusive, auto-delete queue bound to the topic's exchange, on its own channel. */
  async subscribe(topic: string, onPayload: PayloadListener): Promise<TransportSubscription> {
    this.#checkUsable();
    const exchange = await this.#declareTopic(topic);
    const tracked = await this.#openChannel(() => this.#model.createChannel());
    try {
      const { queue } = await this.#rpc(() => tracked.channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false }), 'open a subscription');
      await this.#rpc(() => tracked.channel.bindQueue(queue, exchange, ''), `subscribe to '${topic}'`);
      await this.#rpc(
        () => tracked.channel.consume(queue, (msg) => {
          if (msg) deliverSafely(() => onPayload(toBytes(msg.content), msg.properties.contentType ?? undefined));
        }, { noAck: true }),
        `consume the subscription to '${topic}'`,
      );
    } catch (error) {
      await tracked.close();
      throw error;
    }
    let cancelled: Promise<void> | undefined;
    // Closing the channel deletes the queue (exclusive, auto-delete) and with it the binding.
    return { cancel: () => cancelled ??= tracked.close() };
  }

  onLost(listener: (error: Error) => void): void {
    const lost = this.#lost;
    if (lost) queueMicrotask(() => listener(lost));
    else this.#lostListeners.push(listener);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#lostListeners.length = 0;
      for (const consumer of this.#consumers) consumer.transportClosed();
      // Closing the connection closes its channels; RabbitMQ requeues what they left unacked.
      if (!this.#lost) await this.#model.close().catch(() => {});
    })();
    return this.#closing;
  }

  /** The error every call rejects with once the transport is unusable, or undefined. */
  #usable(): ConnectionClosedError | undefined {
    if (this.#lost) return this.#lost;
    if (this.#closing) return new ConnectionClosedError(`the RabbitMQ transport to ${this.#where} is closed`);
    return undefined;
  }

  #checkUsable(): void {
    const error = this.#usable();
    if (error) throw error;
  }

  #connectionClosed(error: Error | undefined): void {
    if (this.#closing || this.#lost) return;
    this.#lost = new ConnectionClosedError(
      `lost the connection to RabbitMQ at ${this.#where}${error ? `: ${error.message}` : ''}`,
      error ? { cause: error } : undefined,
    );
    for (const consumer of this.#consumers) consumer.transportClosed();
    const listeners = this.#lostListeners.splice(0);
    for (const listener of listeners) {
      try {
        listener(this.#lost);
      } catch (thrown) {
        process.emitWarning(`weft: an onLost listener threw: ${reasonOf(thrown)}`);
      }
    }
  }

  #declare(queue: string): Promise<void> {
    let declared = this.#declared.get(queue);
    if (!declared) {
      declared = this.#declarer.get().then(async (tracked) => {
        await this.#rpc(() => tracked.channel.assertQueue(queue, { durable: true }), `declare queue '${queue}'`);
      });
      this.#declared.set(queue, declared);
      declared.catch(() => this.#declared.delete(queue));
    }
    return declared;
  }

  /** The topic's fanout exchange, `weft.topic.<name>`: durable, so that it stays while nobody subscribes. */
  #declareTopic(topic: string): Promise<string> {
    const exchange = `weft.topic.${topic}`;
    let declared = this.#exchanges.get(exchange);
    if (!declared) {
      declared = this.#declarer.get().then(async (tracked) => {
        await this.#rpc(() => tracked.channel.assertExchange(exchange, 'fanout', { durable: true }), `declare exchange '${exchange}'`);
      });
      this.#exchanges.set(exchange, declared);
      declared.catch(() => this.#exchanges.delete(exchange));
    }
    return declared.then(() => exchange);
  }

  /** Sends on the confirm channel; resolves once RabbitMQ has taken the message. */
  async #send(exchange: string, queue: string, payload: Uint8Array, options: Options.Publish): Promise<void> {
    const tracked = await this.#publisher.get().catch((error: unknown) => {
      throw this.#failure(error, 'open the publishing channel');
    });
    const content = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    await new Promise<void>((resolve, reject) => {
      try {
        tracked.channel.publish(exchange, queue, content, options, (error: unknown) => {
          if (error) reject(this.#failure(error, `publish to '${exchange || queue}'`, tracked));
          else resolve();
        });
      } catch (error) {
        reject(this.#failure(error, `publish to '${exchange || queue}'`, tracked));
      }
    });
  }

  /**
   * A request (a correlationId and one of our inboxes as replyTo) goes out on that inbox's
   * direct reply-to channel, its answer skipping a reply queue. Not persistent: its answer
   * can only come back over this connection, which a broker restart ends, so a request kept on
   * disk across one would be answered to nobody. Confirmed all the same: publish() resolves
   * once the server has it, and a refused one rejects.
   */
  async #sendRequest(direct: DirectReplyChannel, queue: string, payload: Uint8Array, properties: TransportProperties): Promise<void> {
    const tracked = await direct.get().catch((error: unknown) => {
      throw this.#failure(error, 'open the request channel');
    });
    const content = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    await new Promise<void>((resolve, reject) => {
      const fail = (error: unknown) => reject(this.#failure(error, `send a request to '${queue}'`, tracked));
      try {
        direct.publish(tracked, queue, content, {
          contentType: properties.contentType ?? CONTENT_TYPE,
          correlationId: properties.correlationId,
          headers: { ...properties.headers },
        }, (error) => (error ? fail(error) : resolve()));
      } catch (error) {
        fail(error);
      }
    });
  }

  /** Runs an amqplib RPC, turning its failure into a weft error. */
  async #rpc<T>(call: () => Promise<T>, what: string): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw this.#failure(error, what);
    }
  }

  async #openChannel<C extends Channel>(create: () => Promise<C>): Promise<TrackedChannel<C>> {
    return new TrackedChannel(await this.#rpc(create, 'open a channel'));
  }

  /** The error for a failed operation: the connection's state first, else the server's reason. */
  #failure(error: unknown, what: string, tracked?: TrackedChannel<Channel>): Error {
    const unusable = this.#usable();
    if (unusable) return unusable;
    const reason = tracked && !tracked.open ? tracked.closedReason : reasonOf(error);
    return new ConnectionClosedError(`RabbitMQ at ${this.#where}: could not ${what}: ${reason}`, { cause: error });
  }
}

/** An empty name would make RabbitMQ invent a queue (declare) or drop the message (publish). */
function checkQueueName(queue: string): void {
  if (typeof queue !== 'string' || queue.length === 0) throw new TypeError('a queue name must be a non-empty string');
}

