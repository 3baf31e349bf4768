/**
 * The Redis adapter's pub/sub: inboxes are channels `weft:inbox:<uuid>`, topics channels
 * `weft:topic:<name>`, all on one subscriber connection per transport (a connection in
 * subscribe mode can do nothing else). Many listeners may share a channel (several
 * subscriptions of one topic): the channel is subscribed while it has one. Redis delivers a
 * channel's messages in the order they were published, so one sender's bodies keep their order.
 */
import type { Redis } from 'ioredis';
import { CONTENT_TYPE } from '../transport.js';

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
 * Redis pub/sub has no headers, so weft marks what it publishes with a 2-byte prefix: 0xC1,
 * the one byte that MessagePack never uses and that starts no UTF-8 text (so no JSON or text
 * message of another program starts with it), then 0x01, the format (a MessagePack body).
 * A message without it is another program's: it is handed on marked as such (content type
 * undefined) and refused. On an inbox channel the prefix is followed by the correlationId:
 * 2 bytes big-endian length of its UTF-8 bytes (0xFFFF when there is none), those bytes; then
 * the payload. On a topic channel the payload follows the prefix directly.
 */
const MARK = Buffer.from([0xc1, 0x01]);
const NO_CORRELATION_ID = 0xffff;

/** What a pub/sub message held: weft's payload (content type set), or another program's bytes as they came. */
export interface PubSubPayload {
  payload: Uint8Array;
  contentType: string | undefined;
  correlationId: string | undefined;
}

const view = (buffer: Buffer, start: number): Uint8Array => new Uint8Array(buffer.buffer, buffer.byteOffset + start, buffer.length - start);
const foreign = (message: Buffer): PubSubPayload => ({ payload: view(message, 0), contentType: undefined, correlationId: undefined });
const isMarked = (message: Buffer): boolean => message.length >= MARK.length && message[0] === MARK[0] && message[1] === MARK[1];

export function encodeTopicPayload(payload: Uint8Array): Buffer {
  return Buffer.concat([MARK, payload]);
}

export function decodeTopicPayload(message: Buffer): PubSubPayload {
  if (!isMarked(message)) return foreign(message);
  return { payload: view(message, MARK.length), contentType: CONTENT_TYPE, correlationId: undefined };
}

export function encodeReply(payload: Uint8Array, correlationId: string | undefined): Buffer {
  const id = correlationId === undefined ? Buffer.alloc(0) : Buffer.from(correlationId, 'utf8');
  if (id.length >= NO_CORRELATION_ID) throw new RangeError('correlationId is too long for a redis reply');
  const envelope = Buffer.allocUnsafe(MARK.length + 2 + id.length + payload.byteLength);
  MARK.copy(envelope, 0);
  envelope.writeUInt16BE(correlationId === undefined ? NO_CORRELATION_ID : id.length, MARK.length);
  id.copy(envelope, MARK.length + 2);
  envelope.set(payload, MARK.length + 2 + id.length);
  return envelope;
}

export function decodeReply(envelope: Buffer): PubSubPayload {
  if (!isMarked(envelope) || envelope.length < MARK.length + 2) return foreign(envelope);
  const start = MARK.length + 2;
  const idLength = envelope.readUInt16BE(MARK.length);
  if (idLength === NO_CORRELATION_ID) return { payload: view(envelope, start), contentType: CONTENT_TYPE, correlationId: undefined };
  if (envelope.length < start + idLength) return foreign(envelope);
  return {
    payload: view(envelope, start + idLength),
    contentType: CONTENT_TYPE,
    correlationId: envelope.toString('utf8', start, start + idLength),
  };
}
