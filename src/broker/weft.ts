import { ConnectionClosedError } from '../core/errors.js';
import { byRef, connect } from '../remote/rpc.js';
import type { Remote, RemoteRoot } from '../remote/rpc/proxy.js';
import type {
  BrokerTransport, Delivery, PayloadListener, TransportConsumer, TransportOptions, TransportProperties, TransportSubscription,
} from './transport.js';
import type { QueueStats } from './types.js';
import type { BrokerSession, DeliverySink, ReplySink, TopicSink } from './weft-server.js';

/**
 * The adapter for weft's own broker (`weft broker`, serveBroker()): `weft://:AUTHKEY@HOST:PORT`,
 * or `weft://HOST:PORT` with the authkey in WEFT_AUTHKEY. Every operation is an RPC call on this
 * client's session; deliveries and answers arrive as calls from the server on objects this side
 * lends. The server notices a lost client by its connection, so a crashed consumer's messages
 * come back at once.
 */
export async function openWeftTransport(url: URL, options: TransportOptions): Promise<BrokerTransport> {
  const authkey = url.password ? decodeURIComponent(url.password) : process.env.WEFT_AUTHKEY;
  if (!authkey) throw new TypeError('a weft:// broker URL needs the authkey: weft://:AUTHKEY@HOST:PORT, or WEFT_AUTHKEY in the environment');
  const root = await connect<{ open(): BrokerSession }>(`tcp://${url.host}`, { authkey, connectTimeout: options.connectTimeout });
  try {
    const session = (await root.open()) as unknown as Remote<BrokerSession>;
    return new WeftTransport(root, session, url.host);
  } catch (error) {
    await root.close();
    throw error;
  }
}

class WeftTransport implements BrokerTransport {
  readonly kind = 'weft';
  #root: RemoteRoot<{ open(): BrokerSession }>;
  #session: Remote<BrokerSession>;
  #where: string;
  #closed = false;
  #lost: Error | undefined;
  #lostListeners: ((error: Error) => void)[] = [];

  constructor(root: RemoteRoot<{ open(): BrokerSession }>, session: Remote<BrokerSession>, where: string) {
    this.#root = root;
    this.#session = session;
    this.#where = where;
    // The one call that stays open for the session's life: it fails when the connection does.
    session.hold().then(undefined, (error: Error) => {
      if (this.#closed) return;
      this.#lost = new ConnectionClosedError(`lost the connection to the weft broker at ${where}: ${error.message}`, { cause: error });
      for (const listener of this.#lostListeners.splice(0)) listener(this.#lost);
    });
  }

  publish(queue: string, payload: Uint8Array, properties: TransportProperties): Promise<void> {
    return this.#call(() => this.#session.publish(queue, payload, properties));
  }

  async consume(queue: string, prefetch: number, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    const session = this.#session;
    const sink: DeliverySink = {
      deliver: (id, payload, properties) => {
        onDelivery({
          ...properties,
          payload,
          headers: properties.headers ?? {},
          ack: () => this.#call(() => session.settle(id, null)),
          nack: (requeue) => this.#call(() => session.settle(id, requeue)),
        });
      },
    };
    const consumerId = await this.#call(() => session.consume(queue, prefetch, byRef(sink) as unknown as DeliverySink));
    return { cancel: () => this.#call(() => session.cancel(consumerId)) };
  }

  openInbox(onReply: PayloadListener<[correlationId: string | undefined]>): Promise<string> {
    const sink: ReplySink = { answer: (payload, correlationId, contentType) => onReply(payload, contentType ?? undefined, correlationId ?? undefined) };
    return this.#call(() => this.#session.openInbox(byRef(sink) as unknown as ReplySink));
  }

  closeInbox(address: string): Promise<void> {
    return this.#call(() => this.#session.closeInbox(address));
  }

  reply(replyTo: string, payload: Uint8Array, correlationId: string | undefined): Promise<void> {
    return this.#call(() => this.#session.reply(replyTo, payload, correlationId));
  }

  queueStats(queue: string): Promise<QueueStats> {
    return this.#call(() => this.#session.queueStats(queue));
  }

  broadcast(topic: string, payload: Uint8Array): Promise<void> {
    return this.#call(() => this.#session.broadcast(topic, payload));
  }

  async subscribe(topic: string, onPayload: PayloadListener): Promise<TransportSubscription> {
    const sink: TopicSink = { receive: (payload, contentType) => onPayload(payload, contentType ?? undefined) };
    const id = await this.#call(() => this.#session.subscribe(topic, byRef(sink) as unknown as TopicSink));
    let cancelled: Promise<void> | undefined;
    return { cancel: () => cancelled ??= this.#closed || this.#lost ? Promise.resolve() : this.#call(() => this.#session.unsubscribe(id)) };
  }

  onLost(listener: (error: Error) => void): void {
    if (this.#lost) listener(this.#lost);
    else this.#lostListeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#root.close();
  }

  /** An RPC call on the session; once the connection is gone, the error says so plainly. */
  async #call<T>(operation: () => PromiseLike<T>): Promise<T> {
    if (this.#closed || this.#lost) throw this.#lost ?? new ConnectionClosedError(`the connection to the weft broker at ${this.#where} is closed`);
    return await operation();
  }
}
