/**
 * The public face of a message broker (SPEC §7): queues of MessagePack bodies with
 * at-least-once delivery, acknowledgement, request/reply. openBroker(url) returns one, whatever
 * server is behind the URL: Redis streams, RabbitMQ (AMQP 0-9-1), NATS JetStream, or memory.
 */

import type { ProtocolError } from '../core/errors.js';

export interface PublishOptions {
  /** Where the consumer's answer goes: a queue name (or a request()'s private inbox). */
  replyTo?: string;
  /** Copied into the answer, so that the asker can match it with its question. */
  correlationId?: string;
  /** Application headers, string to string. */
  headers?: Record<string, string>;
}

export interface ConsumeOptions {
  /** Most messages handed to this consumer and not yet settled at once. @default 16 */
  prefetch?: number;
  /**
   * true: a message is acked when the handler returns (its value goes to `replyTo`, if any),
   * and nacked without requeue when it throws (the error goes to `replyTo`). false: the
   * handler calls `message.ack()` / `message.nack()` / `message.reply()` itself. @default true
   */
  autoAck?: boolean;
  /** Hears about handler failures, refused messages, and acknowledgements that could not reach the server. */
  onError?: (error: Error, message: Message) => void;
  /**
   * Takes the messages this consumer refuses instead of handing them to the handler: those not
   * marked as weft's (another program put them on the queue: `error` says their content type)
   * and those whose body does not decode. They come unsettled, and this decides: ack(), or
   * nack(false) to drop them or have the server dead-letter them, or republish them elsewhere
   * first. Should it throw or reject with the message still unsettled, the message is
   * nacked without requeue and the error goes to onError. Without it: each refused message is
   * nacked without requeue (dropped, or dead-lettered by the server) and reported to onError.
   */
  onRefused?: (error: ProtocolError, message: RefusedMessage) => void | Promise<void>;
  /**
   * Ask the server for more only once at most this many messages are held unsettled, then up to
   * `prefetch` of them at once. Where the adapter reads in batches (Redis), a value below
   * `prefetch - 1` trades one read per settled message for one read per batch. A worker that
   * runs `n` at once and holds more than `n` sets it to `n`: it refills when nothing held waits
   * for a slot. @default prefetch - 1 (refill after every settle)
   */
  refillAt?: number;
}

/** A message a consumer refused (not a weft body): its raw bytes, to settle once. */
export interface RefusedMessage {
  readonly queue: string;
  readonly payload: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly redelivered: boolean;
  ack(): Promise<void>;
  /** requeue defaults to false: a refused message would only be refused again. */
  nack(requeue?: boolean): Promise<void>;
}

export interface RequestOptions {
  /** Milliseconds to wait for the answer; then TimeoutError. @default 30000 */
  timeout?: number;
  /** Aborting it rejects the request with CancelledError. */
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** A message handed to a consumer. Settle it once: ack() or nack(). */
export interface Message<T = unknown> {
  readonly queue: string;
  readonly body: T;
  readonly headers: Readonly<Record<string, string>>;
  readonly replyTo: string | undefined;
  readonly correlationId: string | undefined;
  /** True when this message was delivered before: requeued, or its consumer went away unsettled. */
  readonly redelivered: boolean;
  /** Done with it: the broker forgets it. */
  ack(): Promise<void>;
  /** Give it back: requeue (default) to have it delivered again, or drop it (dead-lettered where the server does that). */
  nack(requeue?: boolean): Promise<void>;
  /** Sends `value` to `replyTo` with this message's correlationId; an Error makes the asker's request reject with it. */
  reply(value: unknown): Promise<void>;
}

export type MessageHandler<T = any> = (message: Message<T>) => unknown;

export interface Consumer {
  readonly queue: string;
  /** Stops taking messages and waits for the handlers running now to finish. */
  cancel(): Promise<void>;
}

export interface InboxOptions {
  /** Hears about bodies that could not be decoded and handler failures (else a process warning). */
  onError?: (error: Error) => void;
}

/** A private, not durable address of one client: what send() to its `address` reaches. */
export interface Inbox {
  /** Where to send: give it to other clients (in a message body, or as a replyTo). */
  readonly address: string;
  /** Stops receiving; bodies sent here afterwards are dropped. Idempotent. */
  close(): Promise<void>;
}

export interface SendOptions {
  /** Handed to the inbox's handler with the body. */
  correlationId?: string;
}

export interface SubscribeOptions {
  /** Hears about bodies that could not be decoded and handler failures (else a process warning). */
  onError?: (error: Error) => void;
}

/** One subscription of a topic. */
export interface Subscription {
  readonly topic: string;
  /** Stops receiving; broadcasts afterwards do not reach this subscription. Idempotent. */
  cancel(): Promise<void>;
}

/** A queue's figures as its server reports them now. */
export interface QueueStats {
  /** Messages waiting for a consumer (not delivered, or given back). */
  waiting: number;
  /** Messages delivered and not yet settled; undefined where the server does not say (RabbitMQ without its management API). */
  unacked: number | undefined;
  /** Consumers reading the queue now; undefined where the server does not say (NATS: all share one durable). */
  consumers: number | undefined;
}

export interface Broker {
  /** `redis`, `amqp`, `nats` or `memory`. */
  readonly kind: string;
  /** Resolves once the server holds the message. */
  publish(queue: string, body: unknown, options?: PublishOptions): Promise<void>;
  consume<T = any>(queue: string, handler: MessageHandler<T>, options?: ConsumeOptions): Promise<Consumer>;
  /** Publishes `body` with a private replyTo and resolves with the consumer's answer. */
  request<R = unknown>(queue: string, body: unknown, options?: RequestOptions): Promise<R>;
  /**
   * Opens a private inbox of this client: bodies that any client send()s to its address reach
   * `handler`, in the order one sender sent them. Not durable: while nobody listens, bodies
   * sent to it are dropped. A client may open many.
   */
  openInbox<T = unknown>(handler: (body: T, correlationId: string | undefined) => void, options?: InboxOptions): Promise<Inbox>;
  /**
   * Sends `body` (a plain value, not a request's `[ok, value]` answer) to an inbox's address,
   * or, when `address` is not an inbox, publishes it to the queue of that name.
   * Resolves once the server has taken it.
   */
  send(address: string, body: unknown, options?: SendOptions): Promise<void>;
  /**
   * Sends `body` to every subscription of `topic` that exists now, on any client of this
   * broker, once each; nothing is kept for later subscribers (not durable). Resolves once the
   * server has taken it.
   */
  broadcast(topic: string, body: unknown): Promise<void>;
  /** Hears the broadcasts to `topic` from now on, until cancelled. A client may subscribe many times. */
  subscribe<T = unknown>(topic: string, handler: (body: T) => void, options?: SubscribeOptions): Promise<Subscription>;
  /** The queue's figures from its server; a queue that does not exist (yet) reports zeros and is not created. */
  queueStats(queue: string): Promise<QueueStats>;
  /** Cancels the consumers, rejects pending requests with ConnectionClosedError, closes the connection. */
  close(): Promise<void>;
  /**
   * Resolves (never rejects) with the reason once this client can no longer be used: its
   * connection was lost for good, or close() was called. Programs that must stay connected
   * (a cluster worker) open a new client then.
   */
  readonly closed: Promise<Error>;
  /**
   * Calls `listener` each time the connection dropped and came back by itself, `closed` not
   * resolving (Redis and NATS clients reconnect within their limits): bodies sent to this
   * client's inboxes and topic subscriptions while it was away were dropped, so a program that
   * waits for them should look for what it may have missed elsewhere (a result store). Returns
   * a function that removes the listener.
   */
  onInterrupted(listener: (error: Error) => void): () => void;
  [Symbol.asyncDispose](): Promise<void>;
}
