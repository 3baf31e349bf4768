import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { ConnectionClosedError, InvalidStateError } from '../../core/errors.js';
import type { Delivery, TransportConsumer } from '../transport.js';
import { TrackedChannel } from './channels.js';
import { reasonOf } from './connect.js';

/**
 * One consumer on its own channel (prefetch applies per channel). If the server closes the
 * channel while the transport is up, RabbitMQ has requeued the unsettled messages; the
 * consumer subscribes again on a fresh channel so the queue keeps being served.
 */
export class AmqpConsumer implements TransportConsumer {
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
    if (msg.properties.contentType != null) delivery.contentType = msg.properties.contentType;
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


/** A plain Uint8Array view of amqplib's Buffer (no copy). */
export function toBytes(content: Buffer): Uint8Array {
  return new Uint8Array(content.buffer, content.byteOffset, content.byteLength);
}

/** Headers as the contract has them: strings. Other publishers (or RabbitMQ's x-death) may send other types. */
export function stringHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
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
export function deliverSafely(callback: () => void): void {
  try {
    callback();
  } catch (error) {
    process.emitWarning(`weft: a broker delivery callback threw: ${reasonOf(error)}`);
  }
}

