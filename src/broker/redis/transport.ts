/**
 * The Redis adapter of the broker layer (see transport.ts for the contract), on Redis streams.
 *
 * - A queue is the stream `weft:q:<queue>` read through one consumer group, `weft`, so that
 *   each entry goes to one consumer and stays in the group's pending list until settled.
 * - An entry's fields: `p` payload, `r` replyTo, `c` correlationId, `h` headers as JSON, and
 *   `d` = 1 on a copy put back by nack(true) or close(), so its next delivery says redelivered.
 * - Settling removes the entry (XACK + XDEL); requeueing adds a copy in the same Lua script,
 *   and only when the XACK removed something, so that a second settle cannot add a duplicate.
 *   Publishes, replies and settles leave in one pipeline per turn of the event loop, acks
 *   batched into one XACK + XDEL per queue (outbox.ts).
 * - Every consumer has its own connection for its blocking XREADGROUP, and periodically claims
 *   (XAUTOCLAIM) entries left pending by other consumers for `redeliverAfter` ms: that is how
 *   messages of a crashed process come back. While a transport is open it refreshes the idle
 *   time of every delivery it holds (XCLAIM JUSTID), also after its consumer was cancelled:
 *   a live process with a slow handler keeps its messages, as on AMQP.
 * - Inboxes are pub/sub channels `weft:inbox:<random>`, topics `weft:topic:<name>`, on one
 *   subscriber connection (pubsub.ts).
 *
 * Files: transport.ts (this: the connection, publishing, settling), consumer.ts (the read and
 * claim loop), entries.ts (stream entry fields, the settle script), pubsub.ts (inboxes and
 * topics), outbox.ts (the main connection's pipelines), connection.ts (making and closing connections).
 */
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { ConnectionClosedError } from '../../core/errors.js';
import { loadPeer } from '../../peers/load.js';
import type {
  BrokerTransport, Delivery, PayloadListener, TransportConsumeOptions, TransportConsumer, TransportOptions, TransportProperties, TransportSubscription,
} from '../transport.js';
import type { QueueStats } from '../types.js';
import { connectOrThrow, createConnection, quit, serverAddress } from './connection.js';
import { MAX_BLOCK_MS, RedisConsumer } from './consumer.js';
import { Outbox } from './outbox.js';
import { DELETE_IDLE_CONSUMER_SCRIPT, GROUP, SETTLE_SCRIPT, SETTLE_SHA, entryFields, streamKey } from './entries.js';
import { readQueueStats } from './stats.js';
import {
  INBOX_PREFIX, PubSub, decodeReply, decodeTopicPayload, encodeReply, encodeTopicPayload, topicChannel,
} from './pubsub.js';

export async function openRedisTransport(url: URL, options: TransportOptions): Promise<BrokerTransport> {
  await loadPeer('ioredis', 'redis:// broker URLs');
  const address = serverAddress(url);
  // Auto-pipelining: the commands issued in one tick (a burst of submits, the store/reply/ack of
  // tasks that ended together) leave in one write and are answered in one read, on both sides.
  const main = createConnection(url, options, { commandTimeout: options.connectTimeout, enableAutoPipelining: true });
  await connectOrThrow(main, address);
  return new RedisTransport(url, options, main, address);
}

export class RedisTransport implements BrokerTransport {
  readonly kind = 'redis';
  /** Replies and settles both leave through #outbox, acks after the replies of their turn. */
  readonly repliesPrecedeAcks = true;
  readonly #url: URL;
  readonly #options: TransportOptions;
  readonly #main: Redis;
  readonly #address: string;
  readonly #readyQueues = new Set<string>();
  /** Publishes, replies, broadcasts and settles, one pipeline per turn of the event loop. */
  readonly #outbox: Outbox;
  readonly #consumers = new Set<RedisConsumer>();
  /** This transport's inboxes: channel → its listener on the subscriber connection. */
  readonly #inboxes = new Map<string, (message: Buffer) => void>();
  readonly #pubsub: PubSub;
  readonly #lostListeners: Array<(error: Error) => void> = [];
  readonly #interruptedListeners: Array<(error: Error) => void> = [];
  #state: 'open' | 'closing' | 'closed' | 'lost' = 'open';
  #lostError: Error | undefined;
  #closing: Promise<void> | undefined;
  /** Keeps held deliveries owned; a third of redeliverAfter leaves room for a late beat. */
  readonly #heartbeat: NodeJS.Timeout;
  #beating = false;

  constructor(url: URL, options: TransportOptions, main: Redis, address: string) {
    this.#url = url;
    this.#options = options;
    this.#main = main;
    this.#address = address;
    this.#outbox = new Outbox(main);
    this.watch(main);
    this.#heartbeat = setInterval(() => void this.#beat(), Math.max(10, Math.floor(options.redeliverAfter / 3)));
    this.#heartbeat.unref();
    this.#pubsub = new PubSub(() => this.#openSubscriber());
  }

  /** Reports the transport lost when `connection` ends for good, unless `closedOnPurpose()`. */
  watch(connection: Redis, closedOnPurpose: () => boolean = () => false): void {
    let lastError: Error | undefined;
    connection.on('error', (error: Error) => { lastError = error; });
    connection.on('end', () => {
      if (this.#state !== 'open' || closedOnPurpose()) return;
      const reason = lastError ? `: ${lastError.message}` : '';
      this.#lose(new ConnectionClosedError(`lost the connection to redis at ${this.#address}${reason}`, { cause: lastError }));
    });
  }

  get redeliverAfter(): number {
    return this.#options.redeliverAfter;
  }

  publish(queue: string, payload: Uint8Array, properties: TransportProperties): Promise<void> {
    // Not async: a publish to a known queue costs the outbox's promise only (the hot path).
    try {
      this.#assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    const key = streamKey(queue);
    const args = entryFields(payload, properties);
    args.unshift(key, '*');
    if (this.#readyQueues.has(queue)) return this.#outbox.sendVoid('XADD', args);
    // The group is made in the same pipeline, just before: the XADD is written now, in the
    // order publish() was called (a reply then an ack: the reply first), not a round trip later.
    const grouped = this.#outbox.send('XGROUP', 'CREATE', key, GROUP, '0', 'MKSTREAM').catch((error: unknown) => {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    });
    return Promise.all([grouped, this.#outbox.sendVoid('XADD', args)]).then(() => void this.#readyQueues.add(queue));
  }

  async consume(queue: string, prefetch: number, onDelivery: (delivery: Delivery) => void, options: TransportConsumeOptions = {}): Promise<TransportConsumer> {
    this.#assertOpen();
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new RangeError(`prefetch must be a positive integer, got ${prefetch}`);
    await this.ensureQueue(queue);
    const connection = createConnection(this.#url, this.#options, {});
    let consumer: RedisConsumer | undefined;
    this.watch(connection, () => consumer === undefined || consumer.stopping);
    try {
      await connectOrThrow(connection, this.#address);
      const clientId = Number(await connection.call('CLIENT', 'ID'));
      this.#assertOpen();
      consumer = new RedisConsumer(this, connection, clientId, queue, prefetch, onDelivery, options.refillAt ?? prefetch - 1);
      this.#consumers.add(consumer);
      return consumer;
    } catch (error) {
      connection.disconnect();
      throw error;
    }
  }

  async openInbox(onReply: PayloadListener<[correlationId: string | undefined]>): Promise<string> {
    this.#assertOpen();
    const channel = `${INBOX_PREFIX}${randomUUID()}`;
    const listener = (message: Buffer): void => {
      const reply = decodeReply(message);
      onReply(reply.payload, reply.contentType, reply.correlationId);
    };
    this.#inboxes.set(channel, listener);
    try {
      await this.#pubsub.listen(channel, listener);
    } catch (error) {
      this.#inboxes.delete(channel);
      throw error;
    }
    return channel;
  }

  async closeInbox(address: string): Promise<void> {
    this.#assertOpen();
    const listener = this.#inboxes.get(address);
    if (!listener) return;
    this.#inboxes.delete(address);
    await this.#pubsub.unlisten(address, listener);
  }

  async reply(replyTo: string, payload: Uint8Array, correlationId: string | undefined): Promise<void> {
    this.#assertOpen();
    if (replyTo.startsWith(INBOX_PREFIX)) {
      await this.#outbox.send('PUBLISH', replyTo, encodeReply(payload, correlationId));
    } else {
      await this.publish(replyTo, payload, correlationId === undefined ? {} : { correlationId });
    }
  }

  /** Consumers count as reading the queue if seen within a few read blocks, or a heartbeat's reach. */
  async queueStats(queue: string): Promise<QueueStats> {
    this.#assertOpen();
    return readQueueStats(this.#main, queue, Math.max(3 * MAX_BLOCK_MS, this.#options.redeliverAfter));
  }

  /** Resolves with PUBLISH's reply: the server has handed it to the subscribers it has now. */
  async broadcast(topic: string, payload: Uint8Array): Promise<void> {
    this.#assertOpen();
    await this.#outbox.send('PUBLISH', topicChannel(topic), encodeTopicPayload(payload));
  }

  async subscribe(topic: string, onPayload: PayloadListener): Promise<TransportSubscription> {
    this.#assertOpen();
    const channel = topicChannel(topic);
    const listener = (message: Buffer): void => {
      const { payload, contentType } = decodeTopicPayload(message);
      onPayload(payload, contentType);
    };
    await this.#pubsub.listen(channel, listener);
    let cancelled: Promise<void> | undefined;
    return {
      cancel: () => cancelled ??= this.#state === 'open' ? this.#pubsub.unlisten(channel, listener) : Promise.resolve(),
    };
  }

  onLost(listener: (error: Error) => void): void {
    this.#lostListeners.push(listener);
  }

  onInterrupted(listener: (error: Error) => void): void {
    this.#interruptedListeners.push(listener);
  }

  close(): Promise<void> {
    if (this.#state === 'lost') return Promise.resolve();
    return this.#closing ??= this.#close();
  }

  async #close(): Promise<void> {
    this.#state = 'closing';
    await Promise.all([...this.#consumers].map((consumer) => consumer.stop()));
    // Unsettled deliveries go back at once, so another consumer need not wait redeliverAfter.
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.requeueHeld()));
    await Promise.allSettled([...this.#consumers].map((consumer) => this.#removeName(consumer)));
    this.#consumers.clear();
    clearInterval(this.#heartbeat);
    this.#outbox.flush();
    const subscriber = await this.#pubsub.connection();
    await Promise.allSettled([quit(this.#main), subscriber && quit(subscriber)]);
    this.#state = 'closed';
  }

  /** Creates `queue`'s stream and group once per transport; a group made before is fine. */
  async ensureQueue(queue: string): Promise<void> {
    if (this.#readyQueues.has(queue)) return;
    try {
      await this.#main.call('XGROUP', 'CREATE', streamKey(queue), GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    }
    this.#readyQueues.add(queue);
  }

  /** Forgets that `queue` was set up (its stream was deleted behind our back). */
  forgetQueue(queue: string): void {
    this.#readyQueues.delete(queue);
  }

  /** Removes an entry from its queue, adding `copy` as a new entry in the same step if given. */
  async settle(queue: string, id: string, copy: Buffer[] | undefined): Promise<void> {
    if (this.#state === 'lost' || this.#state === 'closed') throw this.#closedError();
    if (copy === undefined) return this.#outbox.ack(queue, id);
    const args = [streamKey(queue), GROUP, id, ...(copy ?? [])];
    try {
      await this.#outbox.send('EVALSHA', SETTLE_SHA, 1, ...args);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      await this.#main.call('EVAL', SETTLE_SCRIPT, 1, ...args);
    }
  }

  /** Keeps `ids` owned by `consumer`: resets their idle time so no one claims them. */
  async refresh(queue: string, consumer: string, ids: string[]): Promise<void> {
    await this.#main.call('XCLAIM', streamKey(queue), GROUP, consumer, 0, ...ids, 'JUSTID');
  }

  /** Makes a blocked XREADGROUP on the connection `clientId` return now. */
  async unblock(clientId: number): Promise<void> {
    await this.#main.call('CLIENT', 'UNBLOCK', clientId);
  }

  async forget(consumer: RedisConsumer): Promise<void> {
    if (this.#state !== 'open') return;
    this.#consumers.delete(consumer);
    await this.#removeName(consumer);
  }

  /**
   * A consumer that holds nothing leaves the group, so that queueStats no longer counts it. Only
   * if its pending list is empty, checked in the same script: a read still in flight may have
   * given it entries, and DELCONSUMER would strand them (delivered, pending nowhere).
   */
  async #removeName(consumer: RedisConsumer): Promise<void> {
    await this.#main.call('EVAL', DELETE_IDLE_CONSUMER_SCRIPT, 1, streamKey(consumer.queue), GROUP, consumer.name).catch(() => undefined);
  }

  async #openSubscriber(): Promise<Redis> {
    this.#assertOpen();
    const subscriber = createConnection(this.#url, this.#options, {});
    this.watch(subscriber);
    try {
      await connectOrThrow(subscriber, this.#address);
      this.#followInterruptions(subscriber);
      return subscriber;
    } catch (error) {
      subscriber.disconnect();
      throw error;
    }
  }

  /**
   * The subscriber connection dropped and came back (ioredis subscribes its channels again):
   * what was published to them meanwhile is gone. Reported once it is ready again.
   */
  #followInterruptions(subscriber: Redis): void {
    let dropped = false;
    subscriber.on('close', () => { dropped = true; });
    subscriber.on('ready', () => {
      if (!dropped || this.#state !== 'open') return;
      dropped = false;
      const error = new ConnectionClosedError(`the connection to redis at ${this.#address} dropped and came back: inbox and topic payloads sent meanwhile were lost`);
      for (const listener of this.#interruptedListeners) listener(error);
    });
  }

  async #beat(): Promise<void> {
    if (this.#beating || this.#state !== 'open') return;
    this.#beating = true;
    try {
      await Promise.allSettled([...this.#consumers].map((consumer) => consumer.refreshHeld()));
    } finally {
      this.#beating = false;
    }
  }

  #lose(error: Error): void {
    this.#state = 'lost';
    clearInterval(this.#heartbeat);
    this.#lostError = error;
    for (const consumer of this.#consumers) consumer.abort();
    this.#main.disconnect();
    void this.#pubsub.connection().then((subscriber) => subscriber?.disconnect());
    for (const listener of this.#lostListeners) listener(error);
  }

  #assertOpen(): void {
    if (this.#state !== 'open') throw this.#closedError();
  }

  #closedError(): Error {
    if (this.#state === 'lost') return new ConnectionClosedError('the redis connection was lost', { cause: this.#lostError });
    return new ConnectionClosedError('the redis transport is closed');
  }
}

