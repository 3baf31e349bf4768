/**
 * The NATS JetStream adapter. Each weft queue is one work-queue stream (subject
 * `weft.q.<token>`) with one durable pull consumer `weft` that every weft consumer of the queue
 * shares; JetStream then hands each message to one puller and redelivers what stays unacked
 * for ack_wait (= redeliverAfter). Inboxes and topics are core NATS subjects, not JetStream.
 *
 * Files: transport.ts (this: the connection, publishing, settling, inboxes, topics),
 * outbox.ts (a turn's replies and acks in one write, confirmed once), streams.ts (the streams and the durable, their figures), puller.ts (pull requests within
 * prefetch), headers.ts (properties and the content type in NATS headers), names.ts (stream
 * names and subjects).
 */
import type {
  JetStreamManager,
  Msg,
  NatsConnection,
  Subscription,
} from 'nats';
import { ConnectionClosedError } from '../../core/errors.js';
import { loadPeer, peer } from '../../peers/load.js';
import type {
  BrokerTransport, Delivery, PayloadListener, TransportConsumer, TransportOptions, TransportProperties, TransportSubscription,
} from '../transport.js';
import type { QueueStats } from '../types.js';
import { CORRELATION_ID, contentTypeHeaders, contentTypeOf, decodeHeaders, decodeText, encodeHeaders } from './headers.js';
import { topicSubject } from './names.js';
import { Streams } from './streams.js';
import { ACK, NAK, Puller, TERM, WPI, ackSubject, deliveryCount } from './puller.js';
import { NatsOutbox } from './outbox.js';
import { NatsRequests, publishToStream } from './requests.js';

const INBOX_PREFIX = '_INBOX.';
/** Bytes of a message's max_payload kept for headers when telling the client how large a body may be. */
const HEADER_ROOM = 4096;

/**
 * How hard the client tries to get a lost connection back before onLost. Bounded, so that a
 * server gone for good ends in onLost: by default 10 attempts 1 s apart.
 */
export interface NatsReconnect {
  attempts?: number;
  /** Milliseconds between attempts. */
  wait?: number;
}

export async function openNatsTransport(url: URL, options: TransportOptions, reconnect: NatsReconnect = {}): Promise<BrokerTransport> {
  const { connect } = await loadPeer('nats', 'nats:// broker URLs');
  const server = url.host || '127.0.0.1:4222';
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: server,
      name: 'weft',
      timeout: options.connectTimeout,
      maxReconnectAttempts: reconnect.attempts ?? 10,
      reconnectTimeWait: reconnect.wait ?? 1000,
      ...(url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : {}),
    });
  } catch (error) {
    throw new ConnectionClosedError(`cannot connect to NATS at ${server}: ${messageOf(error)}`, { cause: error });
  }
  try {
    // Asks the server for the account's JetStream info: fails clearly where JetStream is off.
    const jsm = await nc.jetstreamManager({ timeout: options.connectTimeout });
    return new NatsTransport(nc, jsm, server, options);
  } catch (error) {
    await nc.close().catch(() => undefined);
    throw new ConnectionClosedError(`NATS at ${server} offers no JetStream: ${messageOf(error)}`, { cause: error });
  }
}

export class NatsTransport implements BrokerTransport {
  readonly kind = 'nats';
  /** Replies to inboxes and acks leave through #outbox, replies first; a reply to a queue is published when issued. */
  readonly repliesPrecedeAcks = true;
  /** The server's max_payload, less room for weft's and the user's headers (they count too). */
  readonly maxPayload: number | undefined;
  readonly #nc: NatsConnection;
  readonly #server: string;
  readonly #options: TransportOptions;
  readonly #streams: Streams;
  readonly #pullers = new Set<Puller>();
  readonly #inboxes = new Map<string, Subscription>();
  /** Deliveries not yet settled, so that close() can give them back. */
  readonly #unsettled = new Set<Msg>();
  readonly #lostListeners: ((error: Error) => void)[] = [];
  readonly #interruptedListeners: ((error: Error) => void)[] = [];
  /** Set once the transport is closed or lost: every call rejects with it. */
  #ended: Error | undefined;
  #lost: Error | undefined;
  /** False while the client is reconnecting. */
  #connected = true;
  /**
   * Keeps held deliveries owned while this process lives: every third of ack_wait each
   * unsettled message gets a +WPI (in progress), which restarts its ack_wait on the server.
   */
  readonly #heartbeat: NodeJS.Timeout;
  readonly #outbox: NatsOutbox;
  /** JetStream publishes and ack confirmations (requests.ts). */
  readonly #requests: NatsRequests;

  constructor(nc: NatsConnection, jsm: JetStreamManager, server: string, options: TransportOptions) {
    this.#nc = nc;
    this.#streams = new Streams(jsm, options.redeliverAfter);
    this.#server = server;
    this.#options = options;
    this.#requests = new NatsRequests(nc, Math.max(options.connectTimeout, 1000));
    this.#outbox = new NatsOutbox(nc, this.#requests, ACK);
    const serverLimit = nc.info?.max_payload;
    this.maxPayload = serverLimit === undefined ? undefined : Math.max(serverLimit - HEADER_ROOM, 0);
    this.#heartbeat = setInterval(() => this.#beat(), Math.max(10, Math.floor(options.redeliverAfter / 3)));
    this.#heartbeat.unref();
    void nc.closed().then((error) => this.#connectionEnded(error));
    void this.#followStatus();
  }

  async publish(queue: string, payload: Uint8Array, properties: TransportProperties): Promise<void> {
    this.#ensureOpen();
    const route = this.#streams.made(queue) ?? await this.#streams.route(queue);
    await publishToStream(this.#requests, route.subject, payload, encodeHeaders(properties));
  }

  async consume(queue: string, prefetch: number, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    this.#ensureOpen();
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new RangeError(`prefetch must be a positive integer, got ${prefetch}`);
    const route = await this.#streams.route(queue);
    await this.#streams.durable(route);
    this.#ensureOpen();
    const puller: Puller = new Puller(this.#nc, route.stream, prefetch, (msg) => this.#deliver(msg, puller, onDelivery));
    this.#pullers.add(puller);
    puller.start();
    return {
      cancel: async () => {
        puller.stop();
        this.#pullers.delete(puller);
      },
    };
  }

  async openInbox(onReply: PayloadListener<[correlationId: string | undefined]>): Promise<string> {
    this.#ensureOpen();
    const inbox = peer('nats').createInbox();
    const subscription = this.#nc.subscribe(inbox, {
      callback: (error, msg) => {
        if (error) return;
        const correlationId = msg.headers?.get(CORRELATION_ID);
        try {
          onReply(msg.data, contentTypeOf(msg.headers), correlationId ? decodeText(correlationId) : undefined);
        } catch {
          // The listener owns its failures; the subscription goes on.
        }
      },
    });
    this.#inboxes.set(inbox, subscription);
    // The server knows the subscription before anyone learns the address.
    await this.#nc.flush();
    return inbox;
  }

  async closeInbox(address: string): Promise<void> {
    this.#ensureOpen();
    const subscription = this.#inboxes.get(address);
    if (!subscription) return;
    this.#inboxes.delete(address);
    subscription.unsubscribe();
    await this.#nc.flush();
  }

  /**
   * To an inbox: through the outbox, before the acks of this turn. To a queue: published now if
   * its stream is known (the PUB is written before any later ack); else the acks issued
   * meanwhile wait until it is published.
   */
  async reply(replyTo: string, payload: Uint8Array, correlationId: string | undefined): Promise<void> {
    this.#ensureOpen();
    if (!replyTo.startsWith(INBOX_PREFIX)) {
      const properties = correlationId === undefined ? {} : { correlationId };
      const route = this.#streams.made(replyTo);
      if (route) {
        return publishToStream(this.#requests, route.subject, payload, encodeHeaders(properties));
      }
      const published = this.publish(replyTo, payload, properties);
      this.#outbox.holdAcks(published);
      return published;
    }
    const headers = contentTypeHeaders();
    if (correlationId !== undefined) headers.set(CORRELATION_ID, encodeURIComponent(correlationId));
    return this.#outbox.reply(replyTo, payload, headers);
  }

  queueStats(queue: string): Promise<QueueStats> {
    this.#ensureOpen();
    return this.#streams.stats(queue);
  }

  /** Core NATS, not JetStream: nothing is kept. Resolves after a flush (the server has it). */
  async broadcast(topic: string, payload: Uint8Array): Promise<void> {
    this.#ensureOpen();
    this.#nc.publish(topicSubject(topic), payload, { headers: contentTypeHeaders() });
    await this.#nc.flush();
  }

  async subscribe(topic: string, onPayload: PayloadListener): Promise<TransportSubscription> {
    this.#ensureOpen();
    const subscription = this.#nc.subscribe(topicSubject(topic), {
      callback: (error, msg) => {
        if (error) return;
        try {
          onPayload(msg.data, contentTypeOf(msg.headers));
        } catch {
          // The listener owns its failures; the subscription goes on.
        }
      },
    });
    // The server knows the subscription before this resolves: later broadcasts reach it.
    await this.#nc.flush();
    let cancelled: Promise<void> | undefined;
    return {
      cancel: () => cancelled ??= (async () => {
        if (this.#ended || subscription.isClosed()) return;
        subscription.unsubscribe();
        await this.#nc.flush();
      })(),
    };
  }

  onInterrupted(listener: (error: Error) => void): void {
    this.#interruptedListeners.push(listener);
  }

  onLost(listener: (error: Error) => void): void {
    const lost = this.#lost;
    if (lost) queueMicrotask(() => listener(lost));
    else this.#lostListeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.#ended) return;
    this.#ended = new ConnectionClosedError(`the NATS transport to ${this.#server} is closed`);
    clearInterval(this.#heartbeat);
    this.#stopPulling();
    // What this turn replied and acked leaves before the drain.
    this.#outbox.flush();
    // Unsettled messages go back at once instead of after ack_wait; drain flushes the naks.
    // While reconnecting there is nobody to tell (and drain would wait for the reconnect):
    // the server gives them out again after ack_wait.
    for (const msg of this.#unsettled) msg.respond(NAK);
    this.#unsettled.clear();
    if (this.#connected) {
      const drained = this.#nc.drain().catch(() => undefined);
      const timer = setTimeout(() => void this.#nc.close().catch(() => undefined), this.#options.connectTimeout);
      await drained;
      clearTimeout(timer);
    }
    // A drain that began while the link was silently down resolves without closing; make sure.
    if (!this.#nc.isClosed()) await this.#nc.close().catch(() => undefined);
    this.#requests.close(this.#ended);
  }

  #beat(): void {
    // While reconnecting the server cannot hear it; what outlives ack_wait meanwhile goes back.
    if (this.#ended || !this.#connected) return;
    for (const msg of this.#unsettled) msg.respond(WPI);
  }

  #ensureOpen(): void {
    if (this.#ended) throw this.#ended;
  }

  #connectionEnded(error: void | Error): void {
    clearInterval(this.#heartbeat);
    this.#stopPulling();
    this.#unsettled.clear();
    if (this.#ended) return this.#requests.close(this.#ended);
    const cause = error ?? undefined;
    const lost = new ConnectionClosedError(
      `lost the connection to NATS at ${this.#server}${cause ? `: ${cause.message}` : ''}`,
      cause ? { cause } : undefined,
    );
    this.#ended = lost;
    this.#lost = lost;
    this.#requests.close(lost);
    for (const listener of this.#lostListeners.splice(0)) {
      try {
        listener(lost);
      } catch {
        // A listener's failure is its own; the others still hear about the loss.
      }
    }
  }

  /**
   * The server forgets a connection's pull requests when it drops: pullers wait while it is
   * away and ask afresh once it is back (unsettled messages stay theirs; acks still work).
   */
  async #followStatus(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (status.type === peer('nats').Events.Disconnect) {
        this.#connected = false;
        for (const puller of this.#pullers) puller.suspend();
      } else if (status.type === peer('nats').Events.Reconnect) {
        this.#connected = true;
        for (const puller of this.#pullers) puller.resume();
        // Core NATS keeps nothing for a subscriber that is away: inbox and topic messages sent meanwhile are gone.
        const error = new ConnectionClosedError(`the connection to NATS at ${this.#server} dropped and came back: inbox and topic messages sent meanwhile were lost`);
        if (!this.#ended) for (const listener of this.#interruptedListeners) listener(error);
      }
    }
  }

  #stopPulling(): void {
    for (const puller of this.#pullers) puller.stop();
    this.#pullers.clear();
  }

  #deliver(msg: Msg, puller: Puller, onDelivery: (delivery: Delivery) => void): void {
    this.#unsettled.add(msg);
    let settled = false;
    const settle = async (how: 'ack' | 'nak' | 'term'): Promise<void> => {
      if (settled) return;
      // Closed or lost: the message already went back to its queue (nak, or ack_wait).
      this.#ensureOpen();
      settled = true;
      this.#unsettled.delete(msg);
      // Settled here, not once the server confirmed: the credit goes to the next pull at once
      // (the server reads the ack before that pull, both on this connection, in order).
      puller.settled();
      if (how === 'ack') {
        // Confirmed by the server (the message is gone), with the other acks of this turn (outbox.ts).
        await this.#outbox.ack(ackSubject(msg));
      } else {
        // After this turn's replies; a flush round trip (or the batch's ack) proves the server read it.
        await this.#outbox.settle(ackSubject(msg), how === 'nak' ? NAK : TERM);
      }
    };
    const { properties, headers } = decodeHeaders(msg.headers);
    const delivery: Delivery = {
      payload: msg.data,
      headers,
      ...properties,
      redelivered: deliveryCount(msg.reply) > 1,
      ack: () => settle('ack'),
      nack: (requeue) => settle(requeue ? 'nak' : 'term'),
    };
    try {
      onDelivery(delivery);
    } catch {
      // The callback owns its failures; the message stays owned until settled or closed.
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

