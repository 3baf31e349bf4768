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
  type Consumer,
  type ConsumerMessages,
  type FetchMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type MsgHdrs,
  type NatsConnection,
} from 'nats';
import { ConnectionClosedError } from '../core/errors.js';
import type { BrokerTransport, Delivery, TransportConsumer, TransportOptions, TransportProperties } from './transport.js';

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
/** After a failed pull (no connection, stream deleted) wait this long before asking again, not in a hot loop. */
const PULL_RETRY_DELAY = 500;
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

/** One delivery not yet settled, so that close() can give it back. */
interface Unsettled {
  msg: JsMsg;
  puller: Puller;
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
  readonly #durables = new Map<string, Promise<Consumer>>();
  readonly #pullers = new Set<Puller>();
  readonly #unsettled = new Set<Unsettled>();
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
    const durable = await this.#durable(route);
    this.#ensureOpen();
    const puller: Puller = new Puller(durable, prefetch, (msg) => this.#deliver(msg, puller, onDelivery));
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
    this.#nc.subscribe(inbox, {
      callback: (error, msg) => {
        if (error) return;
        const correlationId = msg.headers?.get(CORRELATION_ID);
        onReply(msg.data, correlationId ? decodeURIComponent(correlationId) : undefined);
      },
    });
    // The server knows the subscription before anyone learns the address.
    await this.#nc.flush();
    return inbox;
  }

  async reply(replyTo: string, payload: Uint8Array, correlationId: string | undefined): Promise<void> {
    this.#ensureOpen();
    if (!replyTo.startsWith(INBOX_PREFIX)) return this.publish(replyTo, payload, { correlationId });
    const headers = natsHeaders();
    if (correlationId !== undefined) headers.set(CORRELATION_ID, encodeURIComponent(correlationId));
    this.#nc.publish(replyTo, payload, { headers });
    await this.#nc.flush();
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
    for (const { msg } of this.#unsettled) msg.nak();
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

  #durable(route: QueueRoute): Promise<Consumer> {
    let durable = this.#durables.get(route.stream);
    if (!durable) {
      durable = this.#createDurable(route.stream);
      this.#durables.set(route.stream, durable);
      durable.catch(() => this.#durables.delete(route.stream));
    }
    return durable;
  }

  async #createDurable(stream: string): Promise<Consumer> {
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
    return this.#js.consumers.get(stream, DURABLE);
  }

  #deliver(msg: JsMsg, puller: Puller, onDelivery: (delivery: Delivery) => void): void {
    const entry: Unsettled = { msg, puller };
    this.#unsettled.add(entry);
    let settled = false;
    const settle = async (how: 'ack' | 'nak' | 'term'): Promise<void> => {
      if (settled) return;
      // Closed or lost: the message already went back to its queue (nak, or ack_wait).
      this.#ensureOpen();
      settled = true;
      this.#unsettled.delete(entry);
      try {
        if (how === 'ack') {
          await msg.ackAck();
        } else {
          if (how === 'nak') msg.nak();
          else msg.term();
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
      redelivered: msg.info.redelivered,
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
 * it more than prefetch at once. Each pull is a fetch with its own inbox, so the messages a pull
 * did not bring are known when it ends (filled, expired, or failed) and asked for again.
 */
class Puller {
  readonly #durable: Consumer;
  readonly #prefetch: number;
  readonly #onMessage: (msg: JsMsg) => void;
  readonly #pulls = new Set<ConsumerMessages>();
  #pullCount = 0;
  #unsettled = 0;
  #requested = 0;
  #stopped = false;
  #suspended = false;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(durable: Consumer, prefetch: number, onMessage: (msg: JsMsg) => void) {
    this.#durable = durable;
    this.#prefetch = prefetch;
    this.#onMessage = onMessage;
  }

  start(): void {
    this.#pull();
  }

  /** Stops asking; open pulls are cancelled (the server drops a request nobody listens to). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    for (const pull of this.#pulls) pull.stop();
    this.#pulls.clear();
  }

  /** Ends the open pulls and asks for no more until resume(). */
  suspend(): void {
    this.#suspended = true;
    for (const pull of this.#pulls) pull.stop();
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
    while (!this.#stopped && !this.#suspended && this.#retryTimer === undefined && this.#pullCount < MAX_PULLS) {
      const batch = this.#prefetch - this.#unsettled - this.#requested;
      if (batch <= 0) return;
      void this.#fetch(batch);
    }
  }

  async #fetch(batch: number): Promise<void> {
    this.#pullCount++;
    this.#requested += batch;
    let received = 0;
    let failed = false;
    let pull: ConsumerMessages | undefined;
    const callback = (msg: JsMsg): void => {
      // Arrived while stopping, or beyond what this pull asked for (the client re-pulls on its
      // own after missed heartbeats): back to the queue at once, prefetch holds.
      if (this.#stopped || this.#suspended || received >= batch) {
        msg.nak();
        return;
      }
      received++;
      this.#requested--;
      this.#unsettled++;
      this.#onMessage(msg);
    };
    try {
      // `callback` (typed for consume() only) makes fetch hand over each message as it arrives,
      // so nothing sits in an iterator's buffer when the pull is stopped.
      const options: FetchMessages & { callback: (msg: JsMsg) => void } = { max_messages: batch, expires: PULL_EXPIRES, callback };
      pull = await this.#durable.fetch(options);
      if (this.#stopped || this.#suspended) pull.stop();
      else this.#pulls.add(pull);
      const error = await pull.closed();
      failed = error instanceof Error;
    } catch {
      failed = true;
    } finally {
      if (pull) this.#pulls.delete(pull);
      this.#pullCount--;
      this.#requested -= batch - received;
    }
    if (failed && !this.#stopped && this.#retryTimer === undefined) {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#pull();
      }, PULL_RETRY_DELAY);
      this.#retryTimer.unref();
    }
    this.#pull();
  }
}

/** The JetStream stream that holds `queue`'s messages (for tools and tests that look at it). */
export function natsStreamName(queue: string): string {
  return `weft_${queueToken(queue)}`;
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
    if (name === REPLY_TO) properties.replyTo = decodeURIComponent(value);
    else if (name === CORRELATION_ID) properties.correlationId = decodeURIComponent(value);
    else if (name.startsWith(ESCAPED)) headers[Buffer.from(name.slice(ESCAPED.length), 'hex').toString('utf8')] = decodeURIComponent(value);
    else if (!/^nats-/i.test(name)) headers[name] = value;
  }
  return { properties, headers };
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
