/**
 * The NATS JetStream adapter. Each weft queue is one work-queue stream (subject
 * `weft.q.<token>`) with one durable pull consumer `weft` that every weft consumer of the queue
 * shares; JetStream then hands each message to one puller and redelivers what stays unacked
 * for ack_wait (= redeliverAfter). Replies to an inbox travel over core NATS, not JetStream.
 */
import { createHash } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  Events,
  RetentionPolicy,
  StorageType,
  connect,
  createInbox,
  headers as natsHeaders,
  nanos,
  type JetStreamClient,
  type JetStreamManager,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { ConnectionClosedError } from '../core/errors.js';
import type {
  BrokerTransport, Delivery, TransportConsumer, TransportOptions, TransportProperties, TransportSubscription,
} from './transport.js';

const DURABLE = 'weft';
const REPLY_TO = 'Weft-Reply-To';
const CORRELATION_ID = 'Weft-Correlation-Id';
/** A user header whose name or value NATS cannot carry travels as `Weft-H-<hex name>: <URI-encoded value>`. */
const ESCAPED = 'Weft-H-';
const INBOX_PREFIX = '_INBOX.';
/** How long one pull request waits on an empty queue before it is renewed (the server's minimum is 1 s). */
const PULL_EXPIRES = 10_000;
/** Pull requests one consumer keeps open at once: freed credit is asked for without waiting on a slow pull. */
const MAX_PULLS = 4;
/** Past a request's expiry, how long to wait for the server's 408 before counting the request as over. */
const PULL_GRACE = 1000;
/** After a failed pull (no connection, stream deleted) wait this long before asking again, not in a hot loop. */
const PULL_RETRY_DELAY = 500;
// What an ack subject takes: done, deliver again now, never deliver again.
const ACK = new TextEncoder().encode('+ACK');
const NAK = new TextEncoder().encode('-NAK');
const TERM = new TextEncoder().encode('+TERM');
/** Bytes of a message's max_payload kept for headers when telling the client how large a body may be. */
const HEADER_ROOM = 4096;
// JetStream API error codes.
const STREAM_NAME_IN_USE = 10058;
const CONSUMER_EXISTS = [10013, 10148];

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

interface QueueRoute {
  stream: string;
  subject: string;
}

class NatsTransport implements BrokerTransport {
  readonly kind = 'nats';
  /** The server's max_payload, less room for weft's and the user's headers (they count too). */
  readonly maxPayload: number | undefined;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #server: string;
  readonly #options: TransportOptions;
  /** Streams known to exist, by queue name. */
  readonly #routes = new Map<string, Promise<QueueRoute>>();
  /** The durable consumer of each stream, by stream name. */
  readonly #durables = new Map<string, Promise<void>>();
  readonly #pullers = new Set<Puller>();
  readonly #inboxes = new Map<string, Subscription>();
  /** Deliveries not yet settled, so that close() can give them back. */
  readonly #unsettled = new Set<Msg>();
  readonly #lostListeners: ((error: Error) => void)[] = [];
  /** Set once the transport is closed or lost: every call rejects with it. */
  #ended: Error | undefined;
  #lost: Error | undefined;
  /** False while the client is reconnecting. */
  #connected = true;

  constructor(nc: NatsConnection, jsm: JetStreamManager, server: string, options: TransportOptions) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = nc.jetstream({ timeout: Math.max(options.connectTimeout, 1000) });
    this.#server = server;
    this.#options = options;
    const serverLimit = nc.info?.max_payload;
    this.maxPayload = serverLimit === undefined ? undefined : Math.max(serverLimit - HEADER_ROOM, 0);
    void nc.closed().then((error) => this.#connectionEnded(error));
    void this.#followStatus();
  }

  async publish(queue: string, payload: Uint8Array, properties: TransportProperties): Promise<void> {
    this.#ensureOpen();
    const route = await this.#route(queue);
    await this.#js.publish(route.subject, payload, { headers: encodeHeaders(properties) });
  }

  async consume(queue: string, prefetch: number, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    this.#ensureOpen();
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new RangeError(`prefetch must be a positive integer, got ${prefetch}`);
    const route = await this.#route(queue);
    await this.#durable(route);
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

  async openInbox(onReply: (payload: Uint8Array, correlationId: string | undefined) => void): Promise<string> {
    this.#ensureOpen();
    const inbox = createInbox();
    const subscription = this.#nc.subscribe(inbox, {
      callback: (error, msg) => {
        if (error) return;
        const correlationId = msg.headers?.get(CORRELATION_ID);
        try {
          onReply(msg.data, correlationId ? decodeText(correlationId) : undefined);
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

  async reply(replyTo: string, payload: Uint8Array, correlationId: string | undefined): Promise<void> {
    this.#ensureOpen();
    if (!replyTo.startsWith(INBOX_PREFIX)) return this.publish(replyTo, payload, { correlationId });
    const headers = natsHeaders();
    if (correlationId !== undefined) headers.set(CORRELATION_ID, encodeURIComponent(correlationId));
    this.#nc.publish(replyTo, payload, { headers });
    await this.#nc.flush();
  }

  /** Core NATS, not JetStream: nothing is kept. Resolves after a flush (the server has it). */
  async broadcast(topic: string, payload: Uint8Array): Promise<void> {
    this.#ensureOpen();
    this.#nc.publish(topicSubject(topic), payload);
    await this.#nc.flush();
  }

  async subscribe(topic: string, onPayload: (payload: Uint8Array) => void): Promise<TransportSubscription> {
    this.#ensureOpen();
    const subscription = this.#nc.subscribe(topicSubject(topic), {
      callback: (error, msg) => {
        if (error) return;
        try {
          onPayload(msg.data);
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

  onLost(listener: (error: Error) => void): void {
    const lost = this.#lost;
    if (lost) queueMicrotask(() => listener(lost));
    else this.#lostListeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.#ended) return;
    this.#ended = new ConnectionClosedError(`the NATS transport to ${this.#server} is closed`);
    this.#stopPulling();
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
  }

  #ensureOpen(): void {
    if (this.#ended) throw this.#ended;
  }

  #connectionEnded(error: void | Error): void {
    this.#stopPulling();
    this.#unsettled.clear();
    if (this.#ended) return;
    const cause = error ?? undefined;
    const lost = new ConnectionClosedError(
      `lost the connection to NATS at ${this.#server}${cause ? `: ${cause.message}` : ''}`,
      cause ? { cause } : undefined,
    );
    this.#ended = lost;
    this.#lost = lost;
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
      if (status.type === Events.Disconnect) {
        this.#connected = false;
        for (const puller of this.#pullers) puller.suspend();
      } else if (status.type === Events.Reconnect) {
        this.#connected = true;
        for (const puller of this.#pullers) puller.resume();
      }
    }
  }

  #stopPulling(): void {
    for (const puller of this.#pullers) puller.stop();
    this.#pullers.clear();
  }

  #route(queue: string): Promise<QueueRoute> {
    let route = this.#routes.get(queue);
    if (!route) {
      route = this.#createStream(queue);
      this.#routes.set(queue, route);
      route.catch(() => this.#routes.delete(queue));
    }
    return route;
  }

  async #createStream(queue: string): Promise<QueueRoute> {
    const token = queueToken(queue);
    const route = { stream: natsStreamName(queue), subject: `weft.q.${token}` };
    try {
      await this.#jsm.streams.add({
        name: route.stream,
        subjects: [route.subject],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
      });
    } catch (error) {
      // Adding an identical stream again succeeds; one made with other settings (by hand, or
      // by another weft version) is used as it is, since its subject is the one we publish to.
      if (apiErrorCode(error) !== STREAM_NAME_IN_USE) throw error;
    }
    return route;
  }

  #durable(route: QueueRoute): Promise<void> {
    let durable = this.#durables.get(route.stream);
    if (!durable) {
      durable = this.#createDurable(route.stream);
      this.#durables.set(route.stream, durable);
      durable.catch(() => this.#durables.delete(route.stream));
    }
    return durable;
  }

  async #createDurable(stream: string): Promise<void> {
    const config = {
      durable_name: DURABLE,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.#options.redeliverAfter),
      // Every weft consumer limits itself (prefetch); the server must not limit them all together.
      max_ack_pending: -1,
    };
    try {
      await this.#jsm.consumers.add(stream, config);
    } catch (error) {
      // Servers that refuse to create over a different config: the newest opener's ack_wait wins.
      const code = apiErrorCode(error);
      if (code === undefined || !CONSUMER_EXISTS.includes(code)) throw error;
      await this.#jsm.consumers.update(stream, DURABLE, { ack_wait: config.ack_wait });
    }
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
      try {
        if (how === 'ack') {
          // As a request: the server's answer proves the ack arrived (the message is gone).
          await this.#nc.request(ackSubject(msg), ACK, { timeout: this.#options.connectTimeout });
        } else {
          msg.respond(how === 'nak' ? NAK : TERM);
          // A flush round trip proves the server read the nak/term before we resolve.
          await this.#nc.flush();
        }
      } finally {
        puller.settled();
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

/**
 * Asks the durable for messages while this consumer has fewer than `prefetch` unsettled or
 * asked for: `unsettled + requested <= prefetch` holds at all times, so the server never hands
 * it more than prefetch at once. Each pull request has its own inbox, so what it brought and
 * when it ended (filled, expired, failed) are known exactly and the rest is asked for again.
 * Stopping drains the inboxes: a message already on its way is given back, not lost.
 */
class Puller {
  readonly #nc: NatsConnection;
  /** The JetStream API subject that takes a pull request for the durable. */
  readonly #nextSubject: string;
  readonly #prefetch: number;
  readonly #onMessage: (msg: Msg) => void;
  readonly #pulls = new Set<Subscription>();
  #unsettled = 0;
  #requested = 0;
  #stopped = false;
  #suspended = false;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(nc: NatsConnection, stream: string, prefetch: number, onMessage: (msg: Msg) => void) {
    this.#nc = nc;
    this.#nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${stream}.${DURABLE}`;
    this.#prefetch = prefetch;
    this.#onMessage = onMessage;
  }

  start(): void {
    this.#pull();
  }

  /** Asks for nothing more; messages still on their way go back to the queue. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    for (const pull of this.#pulls) pull.drain().catch(() => undefined);
  }

  /** The connection dropped: the server forgot our requests. Ask nothing until resume(). */
  suspend(): void {
    this.#suspended = true;
    for (const pull of [...this.#pulls]) pull.unsubscribe();
  }

  resume(): void {
    this.#suspended = false;
    this.#pull();
  }

  settled(): void {
    this.#unsettled--;
    this.#pull();
  }

  #pull(): void {
    while (!this.#stopped && !this.#suspended && this.#retryTimer === undefined && this.#pulls.size < MAX_PULLS) {
      const batch = this.#prefetch - this.#unsettled - this.#requested;
      if (batch <= 0) return;
      this.#request(batch);
    }
  }

  #request(batch: number): void {
    const inbox = createInbox();
    let left = batch;
    let ended = false;
    const end = (failed: boolean): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      this.#pulls.delete(sub);
      this.#requested -= left;
      if (!sub.isClosed() && !sub.isDraining()) sub.unsubscribe();
      if (failed && !this.#stopped) this.#retryLater();
      this.#pull();
    };
    const sub = this.#nc.subscribe(inbox, {
      callback: (error, msg) => {
        if (error) return end(true);
        if (msg.subject === inbox) {
          // A status on the request itself ends it: 408 expired, else an error (no stream,
          // no consumer, too many waiting requests). 100 would be a heartbeat (not asked for).
          const code = msg.headers?.code ?? 0;
          if (code !== 100) end(code !== 408);
          return;
        }
        if (this.#stopped || this.#suspended || left === 0) {
          msg.respond(NAK); // arrived while stopping: back to the queue at once
          return;
        }
        left--;
        this.#requested--;
        this.#unsettled++;
        this.#onMessage(msg);
        if (left === 0) end(false);
      },
    });
    void sub.closed.then(() => end(false));
    // The server ends an expired request with a 408; should that be lost, this does.
    const timer = setTimeout(() => end(false), PULL_EXPIRES + PULL_GRACE);
    timer.unref();
    this.#pulls.add(sub);
    this.#requested += batch;
    this.#nc.publish(this.#nextSubject, jsonBytes({ batch, expires: nanos(PULL_EXPIRES) }), { reply: inbox });
  }

  /** After a failed request (stream or consumer gone, server busy) ask again later, not in a hot loop. */
  #retryLater(): void {
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pull();
    }, PULL_RETRY_DELAY);
    this.#retryTimer.unref();
  }
}

/** How often the message was delivered, from its ack subject (`$JS.ACK.<stream>.<consumer>.<count>...`, or with domain and account hash first). */
function ackSubject(msg: Msg): string {
  if (!msg.reply) throw new Error('a JetStream message without an ack subject');
  return msg.reply;
}

function deliveryCount(reply: string | undefined): number {
  const tokens = reply?.split('.') ?? [];
  if (tokens[0] !== '$JS' || tokens[1] !== 'ACK') return 1;
  return Number(tokens[tokens.length === 9 ? 4 : 6]) || 1;
}

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** The JetStream stream that holds `queue`'s messages (for tools and tests that look at it). */
export function natsStreamName(queue: string): string {
  return `weft_${queueToken(queue)}`;
}

/** The core NATS subject of a topic. */
function topicSubject(topic: string): string {
  return `weft.topic.${queueToken(topic)}`;
}

/** A stream-name- and subject-safe token for any queue name: hex of its UTF-8, or a hash when long. */
function queueToken(queue: string): string {
  const bytes = Buffer.from(queue, 'utf8');
  return bytes.length <= 64 ? `q${bytes.toString('hex')}` : `h${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Printable ASCII without ':', as NATS header names must be; ours and the server's names are reserved. */
function isPlainHeaderName(name: string): boolean {
  return /^[\x21-\x39\x3b-\x7e]+$/.test(name) && !/^(weft|nats)-/i.test(name);
}

/** NATS trims values and cannot carry line breaks. */
function isPlainHeaderValue(value: string): boolean {
  return !/[\r\n]/.test(value) && value.trim() === value;
}

function encodeHeaders(properties: TransportProperties): MsgHdrs {
  const headers = natsHeaders();
  if (properties.replyTo !== undefined) headers.set(REPLY_TO, encodeURIComponent(properties.replyTo));
  if (properties.correlationId !== undefined) headers.set(CORRELATION_ID, encodeURIComponent(properties.correlationId));
  for (const [name, value] of Object.entries(properties.headers ?? {})) {
    if (isPlainHeaderName(name) && isPlainHeaderValue(value)) headers.set(name, value);
    else headers.set(ESCAPED + Buffer.from(name, 'utf8').toString('hex'), encodeURIComponent(value));
  }
  return headers;
}

function decodeHeaders(received: MsgHdrs | undefined): { properties: TransportProperties; headers: Record<string, string> } {
  const properties: TransportProperties = {};
  const headers: Record<string, string> = {};
  if (!received) return { properties, headers };
  for (const name of received.keys()) {
    const value = received.get(name);
    if (name === REPLY_TO) properties.replyTo = decodeText(value);
    else if (name === CORRELATION_ID) properties.correlationId = decodeText(value);
    else if (name.startsWith(ESCAPED)) headers[Buffer.from(name.slice(ESCAPED.length), 'hex').toString('utf8')] = decodeText(value);
    else if (!/^nats-/i.test(name)) headers[name] = value;
  }
  return { properties, headers };
}

/** Undoes encodeURIComponent; a value some other publisher wrote by hand is taken as it is. */
function decodeText(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function apiErrorCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('api_error' in error)) return undefined;
  const apiError: unknown = error.api_error;
  if (typeof apiError !== 'object' || apiError === null || !('err_code' in apiError)) return undefined;
  return typeof apiError.err_code === 'number' ? apiError.err_code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
