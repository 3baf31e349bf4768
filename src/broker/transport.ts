/**
 * What a broker adapter implements: moving opaque payloads between named queues with
 * at-least-once delivery. Everything users see (bodies as values, request/reply, automatic
 * acknowledgement, errors, closing) lives once in BrokerClient on top of this, so every
 * adapter behaves the same; the conformance suite (test/broker/conformance.ts) proves it.
 *
 * Contract, for every adapter:
 * - Queues are created on first use (publish or consume) and survive their consumers. A
 *   message published to a queue nobody consumes yet waits for the first consumer.
 * - Each message goes to one consumer of its queue. It stays owned by that consumer until
 *   ack() (gone for good) or nack() (requeue: delivered again, to any consumer, with
 *   `redelivered` true; no requeue: dropped, or dead-lettered where the server does that).
 * - A consumer that goes away (cancel, close, a dead process, a lost connection) with
 *   messages unsettled has them delivered again, with `redelivered` true: at once where the
 *   server notices (AMQP), else once `redeliverAfter` ms passed without a settle.
 * - A live one keeps them: while its process runs and its transport is open, the messages it
 *   holds unsettled stay its own however long it takes (never a second delivery meanwhile).
 *   Where the server would redeliver after a time (Redis claims, NATS ack_wait), the transport
 *   renews its hold on every unsettled message at least every `redeliverAfter / 3` ms. That
 *   renewal runs on timers: a process stopped (SIGSTOP) or whose event loop is blocked for
 *   `redeliverAfter` looks dead, and its messages are delivered again.
 * - At most `prefetch` messages are unsettled at one consumer at once.
 * - `replyTo` and `correlationId` travel with a message; `reply()` sends a payload to a
 *   `replyTo` address, which is either a queue name or an address made by openInbox().
 * - Inboxes are private, not durable addresses: a connection may open many (each its own
 *   address) and close each; a payload sent to an inbox that is closed or whose connection is
 *   gone is dropped. Payloads sent from one connection to one inbox arrive in the order sent.
 * - Topics fan out and keep nothing: a payload broadcast to a topic reaches every subscription
 *   of that topic that exists when the server takes it, on any connection, once each; a
 *   subscription made later never sees it. Payloads from one connection to one subscription
 *   arrive in the order sent.
 * - Every payload a transport sends (publish, reply, broadcast) carries weft's content type,
 *   CONTENT_TYPE, marked the server's native way (AMQP's content_type, a NATS header, the name
 *   of the Redis stream entry's body field, a 2-byte prefix on Redis pub/sub); everything received reports
 *   the mark it found, or undefined, so that BrokerClient refuses what other programs put
 *   there instead of decoding it as a value.
 * - Connection loss is reported once through `onLost`; after it every call rejects.
 * - A connection that drops and comes back by itself (Redis and NATS clients reconnect within
 *   their limits) is reported through `onInterrupted` each time, once it is back: payloads sent
 *   to its inboxes and topic subscriptions while it was away were dropped, so whoever waits on
 *   them learns to look for what it missed elsewhere.
 */

import type { QueueStats } from './types.js';

/** weft's bodies: one MessagePack value, written by weft's codec. */
export const CONTENT_TYPE = 'application/x-msgpack';

/** Received outside queues: an inbox's or a topic's payload, with the content type it was marked with. */
export type PayloadListener<Extra extends unknown[] = []> = (payload: Uint8Array, contentType: string | undefined, ...extra: Extra) => void;

/** The properties that travel with a payload. */
export interface TransportProperties {
  /**
   * What the payload is. Publishing: CONTENT_TYPE when omitted (weft's clients never set it;
   * tests do, to play another program). Delivered: the mark found, undefined when none.
   */
  contentType?: string;
  replyTo?: string;
  correlationId?: string;
  /** Application headers: names and values are strings. */
  headers?: Record<string, string>;
}

/** One message handed to a consumer. */
export interface Delivery extends TransportProperties {
  payload: Uint8Array;
  headers: Record<string, string>;
  /** True when this message was delivered before (requeued, or its consumer went away). */
  redelivered: boolean;
  ack(): Promise<void>;
  nack(requeue: boolean): Promise<void>;
}

export interface TransportConsumer {
  /**
   * Stops new deliveries. Messages delivered and not yet settled stay owned until settled or
   * until the transport closes (then they are delivered again elsewhere).
   */
  cancel(): Promise<void>;
}

export interface TransportSubscription {
  /** Nothing more reaches this subscription's callback. Idempotent. */
  cancel(): Promise<void>;
}

/** Hints a transport may use; each has a default that keeps the plain contract. */
export interface TransportConsumeOptions {
  /** Read more only once at most this many are held (see ConsumeOptions.refillAt). */
  refillAt?: number;
}

export interface BrokerTransport {
  /** The scheme this adapter serves (`redis`, `amqp`, `nats`, `memory`), for messages. */
  readonly kind: string;
  /** The largest payload the server takes, in bytes, where it has a limit (NATS: its max_payload). */
  readonly maxPayload?: number;
  /**
   * True when a reply() called before a delivery's ack(), in that order and in one turn of the
   * event loop, always reaches the server first (one connection, commands in order): a worker
   * may then send an outcome and acknowledge its task in one write, without waiting for the
   * reply's confirmation in between. Absent: false.
   */
  readonly repliesPrecedeAcks?: boolean;
  /** Resolves once the server has the message (it will not be lost if this process dies). */
  publish(queue: string, payload: Uint8Array, properties: TransportProperties): Promise<void>;
  /** Starts delivering `queue`'s messages to `onDelivery`, at most `prefetch` unsettled at once. */
  consume(queue: string, prefetch: number, onDelivery: (delivery: Delivery) => void, options?: TransportConsumeOptions): Promise<TransportConsumer>;
  /**
   * Opens a private address on this connection: payloads sent there with reply() reach
   * `onReply`. May be called many times; each call makes a new address. Not durable: a payload
   * sent to an inbox that is closed, or whose connection is gone, is dropped.
   */
  openInbox(onReply: PayloadListener<[correlationId: string | undefined]>): Promise<string>;
  /** Closes an inbox this connection opened: nothing more reaches its `onReply`. An unknown address is ignored. */
  closeInbox(address: string): Promise<void>;
  /** Sends `payload` to a `replyTo` address: an inbox, or otherwise a queue name. */
  reply(replyTo: string, payload: Uint8Array, correlationId: string | undefined): Promise<void>;
  /** The queue's figures, read from the server; zeros for a queue that does not exist, which this does not create. */
  queueStats(queue: string): Promise<QueueStats>;
  /** Sends `payload` to every subscription of `topic` there is now; resolves once the server has taken it. */
  broadcast(topic: string, payload: Uint8Array): Promise<void>;
  /** Resolves once the server has the subscription: every broadcast it takes afterwards reaches `onPayload`. */
  subscribe(topic: string, onPayload: PayloadListener): Promise<TransportSubscription>;
  /** Called once if the connection to the server is lost for good (not after close()). */
  onLost(listener: (error: Error) => void): void;
  /** Called each time the connection dropped and came back by itself (adapters that reconnect on their own). */
  onInterrupted?(listener: (error: Error) => void): void;
  /** Closes the connection; unsettled deliveries go back to their queues. */
  close(): Promise<void>;
}

/** Adapter settings that openBroker() reads from the URL's query (`?prefetch=...` is per consume). */
export interface TransportOptions {
  /** Milliseconds after which an unsettled message of a silent consumer is delivered again (where the server does not notice on its own). @default 30000 */
  redeliverAfter: number;
  /** Milliseconds to wait for the server when connecting. @default 10000 */
  connectTimeout: number;
}
