import { randomBytes } from 'node:crypto';
import { CancelledError, ConnectionClosedError, ProtocolError, TimeoutError } from '../core/errors.js';
import { ClosedError } from '../sync/errors.js';
import { checkMilliseconds, checkPositiveInteger, checkSignal, expected } from '../core/validate.js';
import { Codec, reviveError } from '../remote/codec.js';
import { BodyListener } from './body-listener.js';
import { QueueConsumer } from './queue-consumer.js';
import { hooks } from '../observe/hooks.js';
import { CONTENT_TYPE, type BrokerTransport, type TransportProperties } from './transport.js';
import type {
  Broker, Consumer, ConsumeOptions, Inbox, InboxOptions, MessageHandler, PublishOptions, RequestOptions, SendOptions,
  QueueStats, SubscribeOptions, Subscription,
} from './types.js';

const DEFAULT_PREFETCH = 16;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

interface PendingRequest {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * Broker semantics, once for every adapter: bodies are MessagePack (weft's codec: Map, Set,
 * Date, BigInt, typed arrays and errors round-trip), answers are `[ok, value]` so that an
 * Error answer rejects the request, requests are matched to answers by correlationId on one
 * private inbox per client, and a lost or closed connection fails what waits on it.
 */
export class BrokerClient implements Broker {
  readonly kind: string;
  #transport: BrokerTransport;
  #codec = new Codec();
  #maxMessageSize: number;
  #consumers = new Set<QueueConsumer>();
  #requests = new Map<string, PendingRequest>();
  #inbox: Promise<string> | undefined;
  /** What openInbox() and subscribe() opened: stopped when the client closes. */
  #listeners = new Set<{ stop(): void }>();
  /** Correlation ids are this client's random prefix and a counter: unique without a registry. */
  #idPrefix = randomBytes(6).toString('hex');
  #nextId = 0;
  #closed: Error | undefined;
  #closing: Promise<void> | undefined;

  readonly closed: Promise<Error>;
  #resolveClosed!: (error: Error) => void;
  readonly #interrupted = new Set<(error: Error) => void>();

  /** See BrokerTransport.repliesPrecedeAcks (weft's durable workers read it; not public API). */
  get repliesPrecedeAcks(): boolean {
    return this.#transport.repliesPrecedeAcks === true;
  }

  constructor(transport: BrokerTransport, maxMessageSize: number) {
    this.closed = new Promise((resolve) => { this.#resolveClosed = resolve; });
    this.kind = transport.kind;
    this.#transport = transport;
    this.#maxMessageSize = Math.min(maxMessageSize, transport.maxPayload ?? Infinity);
    transport.onLost((error) => this.#fail(new ConnectionClosedError(`the connection to the ${this.kind} broker was lost: ${error.message}`, { cause: error })));
    transport.onInterrupted?.((error) => {
      if (this.#closed) return;
      for (const listener of [...this.#interrupted]) {
        try {
          listener(error);
        } catch {
          // A listener owns its failures; the others still hear of it.
        }
      }
    });
  }

  onInterrupted(listener: (error: Error) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError(expected('listener', 'a function', listener));
    this.#interrupted.add(listener);
    return () => void this.#interrupted.delete(listener);
  }

  publish(queue: string, body: unknown, options: PublishOptions = {}): Promise<void> {
    // Not async (the hot path): a bad argument still rejects, never throws.
    let sent: Promise<void>;
    try {
      this.#checkOpen();
      checkQueue(queue);
      const properties = checkPublishOptions(options);
      const h = hooks.current;
      if (h !== undefined) properties.headers = h.tracedHeaders(properties.headers);
      sent = this.#transport.publish(queue, this.#encode(body, `the body published to ${queue}`), properties);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#call(sent);
  }

  async consume<T = any>(queue: string, handler: MessageHandler<T>, options: ConsumeOptions = {}): Promise<Consumer> {
    this.#checkOpen();
    checkQueue(queue);
    if (typeof handler !== 'function') throw new TypeError(expected('handler', 'a function that takes a message', handler));
    if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
    const prefetch = options.prefetch === undefined ? DEFAULT_PREFETCH : checkPositiveInteger('prefetch', options.prefetch);
    if (options.autoAck !== undefined && typeof options.autoAck !== 'boolean') throw new TypeError(expected('autoAck', 'a boolean', options.autoAck));
    if (options.onError !== undefined && typeof options.onError !== 'function') throw new TypeError(expected('onError', 'a function', options.onError));
    if (options.refillAt !== undefined && !(Number.isInteger(options.refillAt) && options.refillAt >= 0 && options.refillAt < prefetch)) {
      throw new TypeError(expected('refillAt', `an integer from 0 to prefetch - 1 (${prefetch - 1})`, options.refillAt));
    }
    if (options.onRefused !== undefined && typeof options.onRefused !== 'function') throw new TypeError(expected('onRefused', 'a function', options.onRefused));
    const consumer = new QueueConsumer({
      queue,
      handler: handler as MessageHandler,
      autoAck: options.autoAck ?? true,
      onError: options.onError,
      onRefused: options.onRefused,
      decode: (payload) => this.#decode(payload),
      sendReply: (replyTo, correlationId, value) => this.#sendReply(replyTo, correlationId, value),
      repliesPrecedeAcks: this.repliesPrecedeAcks,
    });
    consumer.attach(await this.#call(this.#transport.consume(queue, prefetch, consumer.deliver, options.refillAt === undefined ? undefined : { refillAt: options.refillAt })));
    this.#consumers.add(consumer);
    const cancel = consumer.cancel.bind(consumer);
    return { queue, cancel: () => cancel().finally(() => this.#consumers.delete(consumer)) };
  }

  async request<R = unknown>(queue: string, body: unknown, options: RequestOptions = {}): Promise<R> {
    this.#checkOpen();
    checkQueue(queue);
    if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
    const timeout = options.timeout === undefined ? DEFAULT_REQUEST_TIMEOUT_MS : checkMilliseconds('timeout', options.timeout);
    const signal = options.signal === undefined ? undefined : checkSignal('signal', options.signal);
    const headers = options.headers === undefined ? undefined : checkHeaders(options.headers);
    const payload = this.#encode(body, `the body of a request to ${queue}`);
    if (signal?.aborted) throw cancelled(queue, signal);
    const inbox = await this.#call(this.#openInbox());
    if (signal?.aborted) throw cancelled(queue, signal);
    const correlationId = `${this.#idPrefix}-${++this.#nextId}`;
    const h = hooks.current;
    if (h === undefined) return this.#request(queue, payload, inbox, correlationId, headers, timeout, signal);
    // Observed: a CLIENT span until the reply, its traceparent in the request's headers.
    const scope = h.brokerRequest(queue);
    try {
      const reply = await this.#request<R>(queue, payload, inbox, correlationId, h.requestHeaders(scope, headers), timeout, signal);
      scope.end();
      return reply;
    } catch (error) {
      scope.end(error);
      throw error;
    }
  }

  #request<R>(
    queue: string, payload: Uint8Array, inbox: string, correlationId: string, headers: Record<string, string> | undefined,
    timeout: number, signal: AbortSignal | undefined,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const finish = () => {
        this.#requests.delete(correlationId);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new TimeoutError(`no answer from ${queue} within ${timeout} ms`));
      }, timeout);
      const onAbort = () => {
        finish();
        reject(cancelled(queue, signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#requests.set(correlationId, {
        resolve: (value) => (finish(), resolve(value as R)),
        reject: (error) => (finish(), reject(error)),
      });
      this.#call(this.#transport.publish(queue, payload, { replyTo: inbox, correlationId, headers })).catch((error: Error) => {
        this.#requests.get(correlationId)?.reject(error);
      });
    });
  }

  async openInbox<T = unknown>(handler: (body: T, correlationId: string | undefined) => void, options: InboxOptions = {}): Promise<Inbox> {
    this.#checkOpen();
    if (typeof handler !== 'function') throw new TypeError(expected('handler', 'a function that takes a body and a correlationId', handler));
    const onError = checkListenerOptions(options);
    const listener = new BodyListener<[string | undefined]>('an inbox', (payload) => this.#decode(payload), handler as (body: unknown, id: string | undefined) => void, onError);
    const address = await this.#call(this.#transport.openInbox((payload, contentType, id) => listener.receive(payload, contentType, id)));
    this.#listeners.add(listener);
    let closing: Promise<void> | undefined;
    return {
      address,
      close: () => closing ??= (async () => {
        listener.stop();
        this.#listeners.delete(listener);
        // A closed client closed its inboxes with its connection.
        if (!this.#closed) await this.#call(this.#transport.closeInbox(address));
      })(),
    };
  }

  async send(address: string, body: unknown, options: SendOptions = {}): Promise<void> {
    this.#checkOpen();
    if (typeof address !== 'string' || address.length === 0 || address.length > 200) {
      throw new TypeError(expected('address', 'an inbox address or a queue name of 1 to 200 characters', address));
    }
    if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
    const { correlationId } = options;
    if (correlationId !== undefined && typeof correlationId !== 'string') throw new TypeError(expected('correlationId', 'a string', correlationId));
    await this.#call(this.#transport.reply(address, this.#encode(body, `the body sent to ${address}`), correlationId));
  }

  async queueStats(queue: string): Promise<QueueStats> {
    this.#checkOpen();
    checkQueue(queue);
    return await this.#call(this.#transport.queueStats(queue));
  }

  async broadcast(topic: string, body: unknown): Promise<void> {
    this.#checkOpen();
    checkTopic(topic);
    await this.#call(this.#transport.broadcast(topic, this.#encode(body, `the body broadcast to ${topic}`)));
  }

  async subscribe<T = unknown>(topic: string, handler: (body: T) => void, options: SubscribeOptions = {}): Promise<Subscription> {
    this.#checkOpen();
    checkTopic(topic);
    if (typeof handler !== 'function') throw new TypeError(expected('handler', 'a function that takes a body', handler));
    const onError = checkListenerOptions(options);
    const listener = new BodyListener<[]>(`the topic ${topic}`, (payload) => this.#decode(payload), handler as (body: unknown) => void, onError);
    const subscription = await this.#call(this.#transport.subscribe(topic, listener.receive));
    this.#listeners.add(listener);
    let cancelling: Promise<void> | undefined;
    return {
      topic,
      cancel: () => cancelling ??= (async () => {
        listener.stop();
        this.#listeners.delete(listener);
        if (!this.#closed) await this.#call(subscription.cancel());
      })(),
    };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const listener of this.#listeners) listener.stop();
      this.#listeners.clear();
      this.#fail(new ConnectionClosedError(`the ${this.kind} broker client was closed`));
      const consumers = [...this.#consumers];
      this.#consumers.clear();
      // Stop deliveries, but do not wait for running handlers: closing returns their unsettled
      // messages to the queue, to be delivered again.
      await Promise.allSettled(consumers.map((consumer) => consumer.stop()));
      await this.#transport.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** This client's reply address, opened on the first request (again if that failed). */
  #openInbox(): Promise<string> {
    this.#inbox ??= this.#transport.openInbox((answer, contentType, id) => this.#onAnswer(answer, contentType, id));
    this.#inbox.catch(() => (this.#inbox = undefined));
    return this.#inbox;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError(`the ${this.kind} broker client is closed: ${this.#closed.message}`, { cause: this.#closed });
  }

  /** A transport call; when the connection is gone meanwhile, its error says so. (No async function: one promise less per call.) */
  #call<T>(operation: Promise<T>): Promise<T> {
    return operation.catch((error: unknown) => {
      throw this.#closed ?? error;
    });
  }

  #encode(value: unknown, what: string): Buffer {
    let payload: Buffer;
    try {
      payload = this.#codec.encode(value);
    } catch (error) {
      throw new TypeError(`${what} cannot be sent: ${(error as Error).message}`, { cause: error });
    }
    if (payload.length > this.#maxMessageSize) {
      throw new RangeError(`${what} takes ${payload.length} bytes, more than the limit of ${this.#maxMessageSize}`);
    }
    return payload;
  }

  /** A payload's value (the codec reads Buffers: a view, no copy). */
  #decode(payload: Uint8Array): unknown {
    return this.#codec.decode(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
  }

  #sendReply(replyTo: string, correlationId: string | undefined, value: unknown): Promise<void> {
    let payload: Buffer;
    try {
      payload = this.#encode(value instanceof Error ? [false, value] : [true, value], 'the answer');
    } catch (error) {
      payload = this.#codec.encode([false, error]);
    }
    return this.#call(this.#transport.reply(replyTo, payload, correlationId));
  }

  #onAnswer(payload: Uint8Array, contentType: string | undefined, correlationId: string | undefined): void {
    const pending = correlationId === undefined ? undefined : this.#requests.get(correlationId);
    if (!pending) return; // timed out, cancelled, or not ours
    if (contentType !== CONTENT_TYPE) {
      return pending.reject(new ProtocolError(`the answer is not a weft message (content type: ${contentType ?? 'none'})`));
    }
    let answer: unknown;
    try {
      answer = this.#decode(payload);
    } catch (error) {
      return pending.reject(error as Error);
    }
    if (!Array.isArray(answer) || answer.length !== 2 || typeof answer[0] !== 'boolean') {
      return pending.reject(new ProtocolError('an answer must be [ok: boolean, value]'));
    }
    if (answer[0]) pending.resolve(answer[1]);
    else pending.reject(answer[1] instanceof Error ? answer[1] : reviveError(answer[1]));
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    this.#closed = error;
    this.#resolveClosed(error);
    const requests = [...this.#requests.values()];
    this.#requests.clear();
    for (const request of requests) request.reject(error);
  }
}

function cancelled(queue: string, signal: AbortSignal): CancelledError {
  return new CancelledError(`the request to ${queue} was cancelled`, { cause: signal.reason });
}

export function checkQueue(queue: unknown): void {
  if (typeof queue !== 'string' || queue.length === 0 || queue.length > 200) {
    throw new TypeError(expected('queue', 'a queue name of 1 to 200 characters', queue));
  }
}

function checkTopic(topic: unknown): void {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > 200) {
    throw new TypeError(expected('topic', 'a topic name of 1 to 200 characters', topic));
  }
}

function checkListenerOptions(options: InboxOptions | SubscribeOptions): ((error: Error) => void) | undefined {
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
  if (options.onError !== undefined && typeof options.onError !== 'function') throw new TypeError(expected('onError', 'a function', options.onError));
  return options.onError;
}

function checkPublishOptions(options: PublishOptions): TransportProperties {
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
  const { replyTo, correlationId, headers } = options;
  if (replyTo !== undefined && (typeof replyTo !== 'string' || replyTo === '')) throw new TypeError(expected('replyTo', 'a queue name', replyTo));
  if (correlationId !== undefined && typeof correlationId !== 'string') throw new TypeError(expected('correlationId', 'a string', correlationId));
  return { replyTo, correlationId, headers: headers === undefined ? undefined : checkHeaders(headers) };
}

function checkHeaders(headers: unknown): Record<string, string> {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) throw new TypeError(expected('headers', 'an object of string values', headers));
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') throw new TypeError(expected(`headers.${name}`, 'a string', value));
  }
  return { ...(headers as Record<string, string>) };
}
