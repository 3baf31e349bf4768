/**
 * The Amazon SQS adapter (see transport.ts one folder up for the contract), through the AWS SDK,
 * for AWS and SQS-compatible servers (emulators such as fauxqs, LocalStack, ElasticMQ).
 *
 *   publish ──► Outbox (SendMessageBatch) ──► queue <prefix><name>   (redrive ──► <name>.dlq)
 *                                                 │ Poller: ReceiveMessage within prefetch
 *                                                 ▼
 *   Delivery ── ack: DeleteMessage │ nack(true): visibility 0 │ nack(false): to <name>.dlq, then delete
 *       └── held: visibility renewed every third of it (Holds) while this process lives
 *
 * - The visibility timeout is the lease: redeliverAfter rounded up to seconds. SQS redelivers on
 *   its own what stays invisible past it (a dead or stopped process).
 * - `redelivered` is ApproximateReceiveCount > 1 (a message given back by a cancelled
 *   consumer's receive counts as received too).
 * - Inboxes and topics: channels.ts. The mark: a `Content-Type` message attribute
 *   (attributes.ts). Names: names.ts. The URL: url.ts.
 * - There is no connection: the transport is lost once calls have got no answer for
 *   connectTimeout ms in a row (seen by the consumers' and inboxes' long polls).
 *
 * Files: transport.ts (this), api.ts (the SDK calls), queues.ts (queue URLs, making queues,
 * figures), outbox.ts (batched sends), poller.ts (a consumer's receives), holds.ts (held
 * messages, settling, renewal), channels.ts and listener.ts (inboxes and topics),
 * attributes.ts (bodies and attributes), names.ts, url.ts, admin.ts (deleting queues).
 */
import { randomBytes } from 'node:crypto';
import { AuthenticationError, ConnectionClosedError } from '../../core/errors.js';
import {
  CONTENT_TYPE, type BrokerTransport, type Delivery, type PayloadListener, type TransportConsumer, type TransportOptions,
  type TransportProperties, type TransportSubscription,
} from '../transport.js';
import type { QueueStats } from '../types.js';
import { SqsApi, loadSqsSdk } from './api.js';
import { DEAD_REASON, MAX_MESSAGE_BYTES, MAX_PAYLOAD, decode, outgoing, sized, type IncomingMessage, type OutgoingMessage } from './attributes.js';
import { Channels } from './channels.js';
import { Holds } from './holds.js';
import { deadLetterQueueOf, inboxPrefix, isDeadLetterQueue } from './names.js';
import { Outbox } from './outbox.js';
import { Poller } from './poller.js';
import { Queues } from './queues.js';
import { parseSqsUrl, type SqsSettings } from './url.js';

/** Errors with which SQS says the credentials are wrong (not that the server is away). */
const CREDENTIAL_ERRORS = new Set([
  'InvalidClientTokenId', 'UnrecognizedClientException', 'SignatureDoesNotMatch', 'InvalidSignatureException', 'MissingAuthenticationToken',
  // The SDK's own: no credentials anywhere in its chain.
  'CredentialsProviderError',
]);

export async function openSqsTransport(url: URL, options: TransportOptions): Promise<BrokerTransport> {
  const settings = parseSqsUrl(url);
  const sdk = await loadSqsSdk();
  let transport: SqsTransport | undefined;
  const api = new SqsApi(sdk, settings, { connectTimeout: options.connectTimeout, onTrouble: (error, since) => transport?.trouble(error, since) });
  try {
    // One cheap call proves the server answers and takes the credentials.
    await api.listQueues(inboxPrefix(settings.prefix)).catch((error: unknown) => {
      const name = (error as { name?: string }).name ?? '';
      // Permissions that do not cover ListQueues are no reason to refuse: the server answered.
      if (name === 'AccessDenied' || name === 'AccessDeniedException') return;
      throw error;
    });
  } catch (error) {
    api.destroy();
    const name = (error as { name?: string }).name ?? '';
    const reason = (error as Error).message;
    if (CREDENTIAL_ERRORS.has(name)) throw new AuthenticationError(`no usable credentials for SQS at ${settings.display}: ${reason}`, { cause: error });
    throw new ConnectionClosedError(`cannot reach SQS at ${settings.display}: ${reason}`, { cause: error });
  }
  transport = new SqsTransport(api, settings, options);
  return transport;
}

export class SqsTransport implements BrokerTransport {
  readonly kind = 'sqs';
  readonly maxPayload = MAX_PAYLOAD;
  readonly api: SqsApi;
  readonly queues: Queues;
  readonly holds: Holds;
  readonly #settings: SqsSettings;
  readonly #options: TransportOptions;
  readonly #outbox: Outbox;
  readonly #channels: Channels;
  readonly #pollers = new Set<Poller>();
  readonly #lostListeners: ((error: Error) => void)[] = [];
  /** Set once closed or lost: every call rejects with it. */
  #ended: Error | undefined;
  #lost: Error | undefined;
  #closing: Promise<void> | undefined;

  constructor(api: SqsApi, settings: SqsSettings, options: TransportOptions) {
    this.api = api;
    this.#settings = settings;
    this.#options = options;
    this.queues = new Queues(api, settings.prefix, settings.maxReceiveCount);
    this.holds = new Holds(api, options.redeliverAfter);
    // Every transport is a FIFO message group of its own: its order to each inbox and subscription.
    this.#outbox = new Outbox(api, this.queues, randomBytes(8).toString('hex'));
    this.#channels = new Channels(api, this.#outbox, {
      prefix: settings.prefix,
      connectTimeout: options.connectTimeout,
      ensureOpen: () => this.#ensureOpen(),
      checkSize: (message, what) => checkSize(message, what),
    });
  }

  async publish(queue: string, payload: Uint8Array, properties: TransportProperties): Promise<void> {
    this.#ensureOpen();
    const message = outgoing(payload, properties);
    checkSize(message, `the message to ${queue}`);
    await this.#outbox.toQueue(queue, message);
  }

  async consume(queue: string, prefetch: number, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    this.#ensureOpen();
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new RangeError(`prefetch must be a positive integer, got ${prefetch}`);
    await this.queues.ensure(queue);
    this.#ensureOpen();
    // A cancelled poller stays known while its receives are out: close() cuts them.
    const poller: Poller = new Poller(this, queue, prefetch, (url, message, settled) => this.#deliver(queue, url, message, settled, onDelivery), () => this.#pollers.delete(poller));
    this.#pollers.add(poller);
    poller.start();
    return { cancel: () => poller.cancel() };
  }

  async openInbox(onReply: PayloadListener<[correlationId: string | undefined]>): Promise<string> {
    this.#ensureOpen();
    return this.#channels.openInbox(onReply);
  }

  async closeInbox(address: string): Promise<void> {
    this.#ensureOpen();
    await this.#channels.closeInbox(address);
  }

  async reply(replyTo: string, payload: Uint8Array, correlationId: string | undefined): Promise<void> {
    this.#ensureOpen();
    await (this.#channels.reply(replyTo, payload, correlationId) ?? this.publish(replyTo, payload, { correlationId }));
  }

  async queueStats(queue: string): Promise<QueueStats> {
    this.#ensureOpen();
    return this.queues.stats(queue);
  }

  async broadcast(topic: string, payload: Uint8Array): Promise<void> {
    this.#ensureOpen();
    await this.#channels.broadcast(topic, payload);
  }

  async subscribe(topic: string, onPayload: PayloadListener): Promise<TransportSubscription> {
    this.#ensureOpen();
    return this.#channels.subscribe(topic, onPayload);
  }

  onLost(listener: (error: Error) => void): void {
    const lost = this.#lost;
    if (lost) queueMicrotask(() => listener(lost));
    else this.#lostListeners.push(listener);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** From the API: calls have got no answer since `since`; past connectTimeout of that, the transport is lost. */
  trouble(error: Error, since: number): void {
    if (this.#ended || Date.now() - since < this.#options.connectTimeout) return;
    const lost = new ConnectionClosedError(`lost SQS at ${this.#settings.display}: no answer for ${Date.now() - since} ms (${error.message})`, { cause: error });
    this.#ended = lost;
    this.#lost = lost;
    this.#stop();
    this.#channels.abort();
    this.api.destroy();
    for (const listener of this.#lostListeners.splice(0)) {
      try {
        listener(lost);
      } catch {
        // A listener's failure is its own; the others still hear about the loss.
      }
    }
  }

  async #close(): Promise<void> {
    if (this.#ended) return;
    this.#ended = new ConnectionClosedError(`the SQS transport to ${this.#settings.display} is closed`);
    const bounded = <T>(work: Promise<T>) => Promise.race([work, new Promise((resolve) => setTimeout(resolve, this.#options.connectTimeout).unref())]);
    const pollers = [...this.#pollers];
    this.#pollers.clear();
    for (const poller of pollers) poller.abort();
    // Unsettled messages go back at once instead of when their visibility runs out; the acks,
    // requeues and publishes asked for before close() are sent before the client goes.
    await bounded(Promise.allSettled([this.holds.giveBackAll(), this.holds.whenIdle(), this.#channels.close(), this.#outbox.whenIdle()]));
    this.holds.stop();
    this.api.destroy();
  }

  #stop(): void {
    for (const poller of this.#pollers) poller.abort();
    this.#pollers.clear();
    this.holds.stop();
  }

  #ensureOpen(): void {
    if (this.#ended) throw this.#ended;
  }

  #deliver(queue: string, url: string, message: IncomingMessage, settled: () => void, onDelivery: (delivery: Delivery) => void): void {
    const held = this.holds.hold(url, message.ReceiptHandle!);
    const { payload, contentType, properties, headers } = decode(message);
    let done = false;
    const settle = async (how: 'ack' | 'requeue' | 'dead'): Promise<void> => {
      if (done) return;
      // Closed or lost: the message went back already (or will, when its visibility runs out).
      this.#ensureOpen();
      done = true;
      try {
        if (how === 'ack') await this.holds.ack(held);
        else if (how === 'requeue') await this.holds.requeue(held);
        else await this.#deadLetter(queue, held, message, contentType);
      } finally {
        settled();
      }
    };
    const delivery: Delivery = {
      payload,
      headers,
      ...properties,
      ...(contentType === undefined ? {} : { contentType }),
      redelivered: Number(message.Attributes?.ApproximateReceiveCount ?? 1) > 1,
      ack: () => settle('ack'),
      nack: (requeue) => settle(requeue ? 'requeue' : 'dead'),
    };
    try {
      onDelivery(delivery);
    } catch {
      // The callback owns its failures; the message stays held until settled or closed.
    }
  }

  /**
   * nack(false): a copy with its reason to `<queue>.dlq`, then the message deleted (the
   * redrive policy would move it only after maxReceiveCount receives). Without a dead-letter
   * queue (maxReceiveCount=0), and on a dead-letter queue itself, it is deleted.
   */
  async #deadLetter(queue: string, held: ReturnType<Holds['hold']>, message: IncomingMessage, contentType: string | undefined): Promise<void> {
    if (this.queues.deadLettering && !isDeadLetterQueue(queue)) {
      const reason = contentType === CONTENT_TYPE ? 'nacked without requeue' : `refused: not a weft message (content type: ${contentType ?? 'none'})`;
      const attributes = { ...(message.MessageAttributes ?? {}), [DEAD_REASON]: { DataType: 'String', StringValue: reason } };
      const copy = sized(message.Body ?? '', attributes as OutgoingMessage['attributes']);
      // Another program's message with 10 attributes has no room for an 11th: it goes without its reason.
      const dead = Object.keys(attributes).length > 10 ? sized(message.Body ?? '', message.MessageAttributes as OutgoingMessage['attributes'] ?? {}) : copy;
      try {
        await this.#outbox.toQueue(deadLetterQueueOf(queue), dead);
      } catch (error) {
        // Not renewed any more: it comes back when its visibility runs out (and the redrive
        // policy moves it after maxReceiveCount receives).
        this.holds.release(held);
        throw error;
      }
    }
    await this.holds.ack(held);
  }
}

function checkSize(message: OutgoingMessage, what: string): void {
  if (message.bytes > MAX_MESSAGE_BYTES) {
    throw new RangeError(`${what} takes ${message.bytes} bytes on SQS (its body in base64 and its attributes), more than SQS's limit of ${MAX_MESSAGE_BYTES}`);
  }
}
