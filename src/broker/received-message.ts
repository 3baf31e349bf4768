import { InvalidStateError } from '../core/errors.js';
import type { Message, RefusedMessage } from './types.js';
import type { Delivery } from './transport.js';
import { hooks } from '../observe/hooks.js';

/** How a message sends its answer; the client encodes it and hands it to the transport. */
export type ReplySender = (replyTo: string, correlationId: string | undefined, value: unknown) => Promise<void>;

/**
 * A delivery as the consumer's handler sees it: the decoded body, and settle operations that
 * may run once (a second ack() or nack() is an InvalidStateError, not a silent double settle).
 */
export class ReceivedMessage<T> implements Message<T> {
  readonly queue: string;
  readonly body: T;
  readonly headers: Readonly<Record<string, string>>;
  readonly replyTo: string | undefined;
  readonly correlationId: string | undefined;
  readonly redelivered: boolean;
  #delivery: Delivery;
  #sendReply: ReplySender;
  #settled = false;
  #replied = false;

  constructor(queue: string, body: T, delivery: Delivery, sendReply: ReplySender) {
    this.queue = queue;
    this.body = body;
    this.headers = frozenHeaders(delivery.headers);
    this.replyTo = delivery.replyTo || undefined;
    this.correlationId = delivery.correlationId || undefined;
    this.redelivered = delivery.redelivered;
    this.#delivery = delivery;
    this.#sendReply = sendReply;
    hooks.current?.messageHeld(queue);
  }

  get settled(): boolean {
    return this.#settled;
  }

  get replied(): boolean {
    return this.#replied;
  }

  ack(): Promise<void> {
    return this.#settle('ack') ?? this.#delivery.ack();
  }

  nack(requeue = true): Promise<void> {
    if (typeof requeue !== 'boolean') return Promise.reject(new TypeError(`Expected \`requeue\` to be a boolean, got ${typeof requeue}`));
    return this.#settle('nack') ?? this.#delivery.nack(requeue);
  }

  reply(value: unknown): Promise<void> {
    if (this.replyTo === undefined) return Promise.reject(new InvalidStateError(`the message from ${this.queue} has no replyTo to answer`));
    if (this.#replied) return Promise.reject(new InvalidStateError(`the message from ${this.queue} was answered already`));
    this.#replied = true;
    return this.#sendReply(this.replyTo, this.correlationId, value);
  }

  /** Marks the message settled; a rejection when it was already. */
  #settle(how: string): Promise<never> | undefined {
    if (this.#settled) return Promise.reject(new InvalidStateError(`cannot ${how} a message from ${this.queue}: it was settled already`));
    this.#settled = true;
    hooks.current?.messageSettled(this.queue);
    return undefined;
  }
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** A frozen copy of a delivery's headers; one shared empty object for the many messages without any. */
function frozenHeaders(headers: Record<string, string>): Readonly<Record<string, string>> {
  for (const _ in headers) return Object.freeze({ ...headers });
  return NO_HEADERS;
}

/**
 * A delivery the consumer refused (not a weft body), as onRefused sees it: its raw bytes, and
 * the settle operations of the same once-only guard as a message's.
 */
export class RefusedDelivery implements RefusedMessage {
  readonly queue: string;
  readonly payload: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly redelivered: boolean;
  #message: ReceivedMessage<unknown>;

  constructor(message: ReceivedMessage<unknown>, payload: Uint8Array) {
    this.queue = message.queue;
    // A copy: the handler may keep it past this turn, and some clients reuse their read buffers.
    this.payload = Uint8Array.prototype.slice.call(payload);
    this.headers = message.headers;
    this.redelivered = message.redelivered;
    this.#message = message;
  }

  ack(): Promise<void> {
    return this.#message.ack();
  }

  nack(requeue = false): Promise<void> {
    return this.#message.nack(requeue);
  }
}
