/**
 * The public face of a message broker (SPEC §7): queues of MessagePack bodies with
 * at-least-once delivery, acknowledgement, request/reply. openBroker(url) returns one, whatever
 * server is behind the URL: Redis streams, RabbitMQ (AMQP 0-9-1), NATS JetStream, or memory.
 */

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
  /** Hears about handler failures and acknowledgements that could not reach the server. */
  onError?: (error: Error, message: Message) => void;
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

export interface Broker {
  /** `redis`, `amqp`, `nats` or `memory`. */
  readonly kind: string;
  /** Resolves once the server holds the message. */
  publish(queue: string, body: unknown, options?: PublishOptions): Promise<void>;
  consume<T = any>(queue: string, handler: MessageHandler<T>, options?: ConsumeOptions): Promise<Consumer>;
  /** Publishes `body` with a private replyTo and resolves with the consumer's answer. */
  request<R = unknown>(queue: string, body: unknown, options?: RequestOptions): Promise<R>;
  /** Cancels the consumers, rejects pending requests with ConnectionClosedError, closes the connection. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
