/**
 * The Redis adapter's pub/sub: inboxes are channels `weft:inbox:<uuid>`, topics channels
 * `weft:topic:<name>`, all on one subscriber connection per transport (a connection in
 * subscribe mode can do nothing else). Many listeners may share a channel (several
 * subscriptions of one topic): the channel is subscribed while it has one. Redis delivers a
 * channel's messages in the order they were published, so one sender's bodies keep their order.
 */
import type { Redis } from 'ioredis';

export const INBOX_PREFIX = 'weft:inbox:';
export const topicChannel = (topic: string): string => `weft:topic:${topic}`;

type Listener = (message: Buffer) => void;

export class PubSub {
  readonly #open: () => Promise<Redis>;
  #connection: Promise<Redis> | undefined;
  readonly #listeners = new Map<string, Set<Listener>>();

  /** `open` makes the subscriber connection (connected and watched) on first use. */
  constructor(open: () => Promise<Redis>) {
    this.#open = open;
  }

  /** Resolves once the server has the subscription: what is published afterwards reaches `listener`. */
  async listen(channel: string, listener: Listener): Promise<void> {
    const connection = await this.#connect();
    let listeners = this.#listeners.get(channel);
    if (!listeners) this.#listeners.set(channel, (listeners = new Set()));
    listeners.add(listener);
    try {
      // Also when the channel was subscribed already: the reply then proves that it still is.
      await connection.subscribe(channel);
    } catch (error) {
      await this.unlisten(channel, listener).catch(() => undefined);
      throw error;
    }
  }

  async unlisten(channel: string, listener: Listener): Promise<void> {
    const listeners = this.#listeners.get(channel);
    if (!listeners?.delete(listener) || listeners.size > 0) return;
    this.#listeners.delete(channel);
    const connection = await this.#connection;
    await connection?.unsubscribe(channel);
  }

  /** The subscriber connection, if one was opened (for closing it). */
  async connection(): Promise<Redis | undefined> {
    return this.#connection?.catch(() => undefined);
  }

  #connect(): Promise<Redis> {
    if (!this.#connection) {
      const opening = this.#open().then((connection) => {
        connection.on('messageBuffer', (channel: Buffer, message: Buffer) => this.#dispatch(channel.toString(), message));
        return connection;
      });
      this.#connection = opening;
      opening.catch(() => {
        if (this.#connection === opening) this.#connection = undefined;
      });
    }
    return this.#connection;
  }

  #dispatch(channel: string, message: Buffer): void {
    for (const listener of [...(this.#listeners.get(channel) ?? [])]) {
      try {
        listener(message);
      } catch {
        // A listener owns its failures; the connection goes on serving the others.
      }
    }
  }
}

/**
 * A reply on an inbox channel: 2 bytes big-endian length of the correlationId's UTF-8 bytes
 * (0xFFFF when there is none), those bytes, then the payload.
 */
const NO_CORRELATION_ID = 0xffff;

export function encodeReply(payload: Uint8Array, correlationId: string | undefined): Buffer {
  const id = correlationId === undefined ? Buffer.alloc(0) : Buffer.from(correlationId, 'utf8');
  if (id.length >= NO_CORRELATION_ID) throw new RangeError('correlationId is too long for a redis reply');
  const envelope = Buffer.allocUnsafe(2 + id.length + payload.byteLength);
  envelope.writeUInt16BE(correlationId === undefined ? NO_CORRELATION_ID : id.length, 0);
  id.copy(envelope, 2);
  envelope.set(payload, 2 + id.length);
  return envelope;
}

export function decodeReply(envelope: Buffer): { payload: Uint8Array; correlationId: string | undefined } | undefined {
  if (envelope.length < 2) return undefined;
  const idLength = envelope.readUInt16BE(0);
  if (idLength === NO_CORRELATION_ID) return { payload: new Uint8Array(envelope.subarray(2)), correlationId: undefined };
  if (envelope.length < 2 + idLength) return undefined;
  return {
    correlationId: envelope.toString('utf8', 2, 2 + idLength),
    payload: new Uint8Array(envelope.subarray(2 + idLength)),
  };
}

