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
 * A channel the server closes is opened again on next use; the failing call rejects with the
 * server's reason.
 */
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import { AuthenticationError, ConnectionClosedError, InvalidStateError, TimeoutError } from '../core/errors.js';
import type {
  BrokerTransport, Delivery, TransportConsumer, TransportOptions, TransportProperties, TransportSubscription,
} from './transport.js';

/** Query parameters openBroker() reads itself; amqplib must not see them. */
const WEFT_QUERY_PARAMS = ['redeliverAfter', 'connectTimeout', 'prefetch'];
const CONTENT_TYPE = 'application/x-msgpack';
/** Server-named queues (our inboxes, anyone's) start with this; RabbitMQ refuses to declare such names. */
const RESERVED_QUEUE_PREFIX = 'amq.';

export async function openAmqpTransport(url: URL, options: TransportOptions): Promise<BrokerTransport> {
  const model = await connectWithin(url, options.connectTimeout);
  return new AmqpTransport(model, describeUrl(url));
}

/** Connects, or rejects with a weft error within `timeoutMs` whatever the server does. */
async function connectWithin(url: URL, timeoutMs: number): Promise<ChannelModel> {
  const where = describeUrl(url);
  const attempt = connect(amqplibUrl(url), { timeout: timeoutMs });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`could not connect to RabbitMQ at ${where} within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([attempt, deadline]);
  } catch (error) {
    // A connection that opens after we gave up must not linger.
    attempt.then((late) => late.close().catch(() => {}), () => {});
    if (error instanceof TimeoutError) throw error;
    throw connectError(error, where);
  } finally {
    clearTimeout(timer);
  }
}

function connectError(error: unknown, where: string): Error {
  const reason = error instanceof Error ? error.message : String(error);
  if (/ACCESS.REFUSED/.test(reason)) {
    return new AuthenticationError(`RabbitMQ at ${where} refused the login: ${reason}`, { cause: error });
  }
  if (/ETIMEDOUT/.test(reason)) {
    return new TimeoutError(`could not connect to RabbitMQ at ${where}: ${reason}`, { cause: error });
  }
  return new ConnectionClosedError(`could not connect to RabbitMQ at ${where}: ${reason}`, { cause: error });
}

/** The URL amqplib gets: without weft's own query parameters. */
function amqplibUrl(url: URL): string {
  const stripped = new URL(url.href);
  for (const name of WEFT_QUERY_PARAMS) stripped.searchParams.delete(name);
  return stripped.href;
}

/** The URL for messages: no password, no query. */
function describeUrl(url: URL): string {
  const shown = new URL(url.href);
  shown.password = '';
  shown.search = '';
  return shown.href.replace(/\/$/, '');
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Watches one channel: whether it is still open, and why the server closed it. */
class TrackedChannel<C extends Channel> {
  readonly channel: C;
  #open = true;
  #serverError: Error | undefined;

  constructor(channel: C, onClose?: (serverError: Error | undefined) => void) {
    this.channel = channel;
    // Without an 'error' listener amqplib's emit throws inside its socket handler and takes the connection down.
    channel.on('error', (error: Error) => {
      this.#serverError = error;
    });
    channel.on('close', () => {
      this.#open = false;
      onClose?.(this.#serverError);
    });
  }

  get open(): boolean {
    return this.#open;
  }

  /** Why this channel is unusable, for errors. */
  get closedReason(): string {
    return this.#serverError ? `the server closed the channel: ${this.#serverError.message}` : 'the channel is closed';
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    await this.channel.close().catch(() => {});
  }
}

/** A channel opened on first use and opened again when the server has closed it. */
class ReopeningChannel<C extends Channel> {
  readonly #create: () => Promise<C>;
  #current: Promise<TrackedChannel<C>> | undefined;

  constructor(create: () => Promise<C>) {
    this.#create = create;
  }

  async get(): Promise<TrackedChannel<C>> {
    const current = this.#current;
    if (current) {
      const tracked = await current.catch(() => undefined);
      if (tracked?.open) return tracked;
      if (this.#current !== current) return this.get();
    }
    const next = this.#create().then((channel) => new TrackedChannel(channel));
    this.#current = next;
    next.catch(() => {
      if (this.#current === next) this.#current = undefined;
    });
    return next;
  }

  async close(): Promise<void> {
    const tracked = await this.#current?.catch(() => undefined);
    await tracked?.close();
  }
}

class AmqpTransport implements BrokerTransport {
  readonly kind = 'amqp';
  readonly #model: ChannelModel;
  readonly #where: string;
  readonly #publisher: ReopeningChannel<ConfirmChannel>;
  readonly #declarer: ReopeningChannel<Channel>;
  /** Topics' fanout exchanges declared on this connection. */
  readonly #exchanges = new Map<string, Promise<void>>();
  /** Queues declared durable on this connection (promise: concurrent first uses declare once). */
  readonly #declared = new Map<string, Promise<void>>();
  /** This connection's inboxes, each consumed on its own channel. */
  readonly #inboxes = new Map<string, TrackedChannel<Channel>>();
  readonly #consumers = new Set<AmqpConsumer>();
  readonly #lostListeners: Array<(error: Error) => void> = [];
  #closing: Promise<void> | undefined;
  #lost: ConnectionClosedError | undefined;

  constructor(model: ChannelModel, where: string) {
    this.#model = model;
    this.#where = where;
    this.#publisher = new ReopeningChannel(() => model.createConfirmChannel());
    this.#declarer = new ReopeningChannel(() => model.createChannel());
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
    await this.#send('', queue, payload, {
      persistent: true,
      contentType: CONTENT_TYPE,
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

  async openInbox(onReply: (payload: Uint8Array, correlationId: string | undefined) => void): Promise<string> {
    this.#checkUsable();
    const tracked = await this.#openChannel(() => this.#model.createChannel());
    try {
      const { queue } = await this.#rpc(() => tracked.channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false }), 'open an inbox');
      await this.#rpc(
        () => tracked.channel.consume(queue, (msg) => {
          if (msg) deliverSafely(() => onReply(toBytes(msg.content), msg.properties.correlationId ?? undefined));
        }, { noAck: true }),
        'consume the inbox',
      );
      this.#inboxes.set(queue, tracked);
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
    // The queue is exclusive and auto-delete: it goes with its channel.
    await tracked.close();
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

  /** Resolves on the publisher confirm: the exchange has routed it to the subscriptions' queues there are. */
  async broadcast(topic: string, payload: Uint8Array): Promise<void> {
    this.#checkUsable();
    const exchange = await this.#declareTopic(topic);
    await this.#send(exchange, '', payload, { contentType: CONTENT_TYPE });
  }

  /** A server-named exclusive, auto-delete queue bound to the topic's exchange, on its own channel. */
  async subscribe(topic: string, onPayload: (payload: Uint8Array) => void): Promise<TransportSubscription> {
    this.#checkUsable();
    const exchange = await this.#declareTopic(topic);
    const tracked = await this.#openChannel(() => this.#model.createChannel());
    try {
      const { queue } = await this.#rpc(() => tracked.channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false }), 'open a subscription');
      await this.#rpc(() => tracked.channel.bindQueue(queue, exchange, ''), `subscribe to '${topic}'`);
      await this.#rpc(
        () => tracked.channel.consume(queue, (msg) => {
          if (msg) deliverSafely(() => onPayload(toBytes(msg.content)));
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

/**
 * One consumer on its own channel (prefetch applies per channel). If the server closes the
 * channel while the transport is up, RabbitMQ has requeued the unsettled messages; the
 * consumer subscribes again on a fresh channel so the queue keeps being served.
 */
class AmqpConsumer implements TransportConsumer {
  readonly #model: ChannelModel;
  readonly #queue: string;
  readonly #prefetch: number;
  readonly #onDelivery: (delivery: Delivery) => void;
  readonly #transportError: () => ConnectionClosedError | undefined;
  readonly #forget: (consumer: AmqpConsumer) => void;
  #tracked: TrackedChannel<Channel> | undefined;
  #consumerTag: string | undefined;
  #cancelled = false;
  #unsettled = 0;

  constructor(
    model: ChannelModel,
    queue: string,
    prefetch: number,
    onDelivery: (delivery: Delivery) => void,
    transportError: () => ConnectionClosedError | undefined,
    forget: (consumer: AmqpConsumer) => void,
  ) {
    this.#model = model;
    this.#queue = queue;
    this.#prefetch = prefetch;
    this.#onDelivery = onDelivery;
    this.#transportError = transportError;
    this.#forget = forget;
  }

  async start(): Promise<void> {
    let tracked: TrackedChannel<Channel> | undefined;
    try {
      tracked = new TrackedChannel(await this.#model.createChannel(), (serverError) => this.#channelClosed(tracked!, serverError));
      this.#tracked = tracked;
      this.#unsettled = 0;
      await tracked.channel.prefetch(this.#prefetch);
      const { consumerTag } = await tracked.channel.consume(this.#queue, (msg) => this.#receive(tracked!, msg), { noAck: false });
      this.#consumerTag = consumerTag;
    } catch (error) {
      await tracked?.close();
      throw this.#transportError() ?? new ConnectionClosedError(`could not consume '${this.#queue}': ${tracked && !tracked.open ? tracked.closedReason : reasonOf(error)}`, { cause: error });
    }
  }

  async cancel(): Promise<void> {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#forget(this);
    const tracked = this.#tracked;
    if (!tracked?.open || this.#consumerTag === undefined) return;
    await tracked.channel.cancel(this.#consumerTag).catch(() => {});
    this.#closeWhenSettled();
  }

  /** The connection is closing or gone: its channels go with it, nothing to resubscribe. */
  transportClosed(): void {
    this.#cancelled = true;
  }

  #receive(tracked: TrackedChannel<Channel>, msg: ConsumeMessage | null): void {
    // null: the server cancelled this consumer (its queue was deleted).
    if (!msg) return;
    this.#unsettled++;
    let settled = false;
    const settle = async (how: string, apply: () => void): Promise<void> => {
      if (settled) throw new InvalidStateError(`this message from '${this.#queue}' was already settled`);
      const transportError = this.#transportError();
      if (transportError) throw transportError;
      if (!tracked.open) {
        throw new ConnectionClosedError(`cannot ${how} a message from '${this.#queue}': ${tracked.closedReason}; the server requeued it`);
      }
      settled = true;
      try {
        apply();
      } catch (error) {
        throw new ConnectionClosedError(`cannot ${how} a message from '${this.#queue}': ${reasonOf(error)}`, { cause: error });
      }
      if (tracked === this.#tracked) {
        this.#unsettled--;
        this.#closeWhenSettled();
      }
    };
    const delivery: Delivery = {
      payload: toBytes(msg.content),
      headers: stringHeaders(msg.properties.headers),
      redelivered: msg.fields.redelivered,
      ack: () => settle('ack', () => tracked.channel.ack(msg)),
      nack: (requeue) => settle('nack', () => tracked.channel.nack(msg, false, requeue)),
    };
    if (msg.properties.replyTo != null) delivery.replyTo = msg.properties.replyTo;
    if (msg.properties.correlationId != null) delivery.correlationId = msg.properties.correlationId;
    deliverSafely(() => this.#onDelivery(delivery));
  }

  /** A cancelled consumer's channel is closed once nothing on it waits for a settle. */
  #closeWhenSettled(): void {
    if (this.#cancelled && this.#unsettled === 0 && !this.#transportError()) void this.#tracked?.close();
  }

  #channelClosed(tracked: TrackedChannel<Channel>, serverError: Error | undefined): void {
    if (tracked !== this.#tracked || this.#cancelled || this.#transportError() || !serverError) return;
    process.emitWarning(`weft: RabbitMQ closed the channel consuming '${this.#queue}' (${serverError.message}); subscribing again`);
    this.start().catch((error: unknown) => {
      process.emitWarning(`weft: could not consume '${this.#queue}' again: ${reasonOf(error)}`);
    });
  }
}

/** An empty name would make RabbitMQ invent a queue (declare) or drop the message (publish). */
function checkQueueName(queue: string): void {
  if (typeof queue !== 'string' || queue.length === 0) throw new TypeError('a queue name must be a non-empty string');
}

/** A plain Uint8Array view of amqplib's Buffer (no copy). */
function toBytes(content: Buffer): Uint8Array {
  return new Uint8Array(content.buffer, content.byteOffset, content.byteLength);
}

/** Headers as the contract has them: strings. Other publishers (or RabbitMQ's x-death) may send other types. */
function stringHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue;
    if (typeof value === 'string') out[name] = value;
    else if (Buffer.isBuffer(value)) out[name] = value.toString('utf8');
    else if (typeof value === 'object') out[name] = JSON.stringify(value);
    else out[name] = String(value);
  }
  return out;
}

/** A throwing callback must not unwind into amqplib's frame handling (that would close the connection). */
function deliverSafely(callback: () => void): void {
  try {
    callback();
  } catch (error) {
    process.emitWarning(`weft: a broker delivery callback threw: ${reasonOf(error)}`);
  }
}
