/**
 * The Redis adapter of the broker layer (see transport.ts for the contract), on Redis streams.
 *
 * - A queue is the stream `weft:q:<queue>` read through one consumer group, `weft`, so that
 *   each entry goes to one consumer and stays in the group's pending list until settled.
 * - An entry's fields: `p` payload, `r` replyTo, `c` correlationId, `h` headers as JSON, and
 *   `d` = 1 on a copy put back by nack(true) or close(), so its next delivery says redelivered.
 * - Settling removes the entry (XACK + XDEL); requeueing adds a copy in the same Lua script,
 *   and only when the XACK removed something, so that a second settle cannot add a duplicate.
 * - Every consumer has its own connection for its blocking XREADGROUP, and periodically claims
 *   (XAUTOCLAIM) entries left pending by other consumers for `redeliverAfter` ms: that is how
 *   messages of a crashed process come back. While a transport is open it refreshes the idle
 *   time of every delivery it holds (XCLAIM JUSTID), also after its consumer was cancelled:
 *   a live process with a slow handler keeps its messages, as on AMQP.
 * - Inboxes are pub/sub channels `weft:inbox:<random>` on one subscriber connection.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { createHash, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { ConnectionClosedError } from '../core/errors.js';
import type {
  BrokerTransport, Delivery, TransportConsumer, TransportOptions, TransportProperties,
} from './transport.js';

const GROUP = 'weft';
const INBOX_PREFIX = 'weft:inbox:';
/** Longest XREADGROUP block: bounds how late a claim round or a stop can be. */
const MAX_BLOCK_MS = 1000;
/** Pause after a failed read before the next one, while ioredis reconnects. */
const READ_RETRY_MS = 200;
/** Requests queued while disconnected fail after this many reconnection attempts. */
const MAX_RETRIES_PER_REQUEST = 3;

const streamKey = (queue: string): string => `weft:q:${queue}`;

/**
 * KEYS[1] the stream, ARGV[1] the group, ARGV[2] the entry id, ARGV[3..] the fields of a copy
 * to add (requeue) or none (ack, drop). Adds the copy only if this call removed the entry from
 * the pending list: a message settled twice, or by two consumers, is requeued at most once.
 */
const SETTLE_SCRIPT = `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if acked == 1 and #ARGV > 2 then redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3)) end
return acked`;
const SETTLE_SHA = createHash('sha1').update(SETTLE_SCRIPT).digest('hex');

export async function openRedisTransport(url: URL, options: TransportOptions): Promise<BrokerTransport> {
  const address = serverAddress(url);
  const main = createConnection(url, options, { commandTimeout: options.connectTimeout });
  await connectOrThrow(main, address);
  return new RedisTransport(url, options, main, address);
}

/** One entry as XREADGROUP / XAUTOCLAIM return it; fields are null for a deleted entry. */
type RawEntry = [id: Buffer, fields: Buffer[] | null];

interface HeldEntry {
  fields: Buffer[];
  settled: boolean;
}

class RedisTransport implements BrokerTransport {
  readonly kind = 'redis';
  readonly #url: URL;
  readonly #options: TransportOptions;
  readonly #main: Redis;
  readonly #address: string;
  readonly #readyQueues = new Set<string>();
  readonly #consumers = new Set<RedisConsumer>();
  readonly #inboxes = new Map<string, (payload: Uint8Array, correlationId: string | undefined) => void>();
  #subscriber: Promise<Redis> | undefined;
  readonly #lostListeners: Array<(error: Error) => void> = [];
  #state: 'open' | 'closing' | 'closed' | 'lost' = 'open';
  #lostError: Error | undefined;
  #closing: Promise<void> | undefined;
  /** Keeps held deliveries owned; a third of redeliverAfter leaves room for a late beat. */
  readonly #heartbeat: NodeJS.Timeout;
  #beating = false;

  constructor(url: URL, options: TransportOptions, main: Redis, address: string) {
    this.#url = url;
    this.#options = options;
    this.#main = main;
    this.#address = address;
    this.watch(main);
    this.#heartbeat = setInterval(() => void this.#beat(), Math.max(10, Math.floor(options.redeliverAfter / 3)));
    this.#heartbeat.unref();
  }

  /** Reports the transport lost when `connection` ends for good, unless `closedOnPurpose()`. */
  watch(connection: Redis, closedOnPurpose: () => boolean = () => false): void {
    let lastError: Error | undefined;
    connection.on('error', (error: Error) => { lastError = error; });
    connection.on('end', () => {
      if (this.#state !== 'open' || closedOnPurpose()) return;
      const reason = lastError ? `: ${lastError.message}` : '';
      this.#lose(new ConnectionClosedError(`lost the connection to redis at ${this.#address}${reason}`, { cause: lastError }));
    });
  }

  get redeliverAfter(): number {
    return this.#options.redeliverAfter;
  }

  async publish(queue: string, payload: Uint8Array, properties: TransportProperties): Promise<void> {
    this.#assertOpen();
    await this.ensureQueue(queue);
    await this.#main.callBuffer('XADD', streamKey(queue), '*', ...entryFields(payload, properties));
  }

  async consume(queue: string, prefetch: number, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    this.#assertOpen();
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new RangeError(`prefetch must be a positive integer, got ${prefetch}`);
    await this.ensureQueue(queue);
    const connection = createConnection(this.#url, this.#options, {});
    let consumer: RedisConsumer | undefined;
    this.watch(connection, () => consumer === undefined || consumer.stopping);
    try {
      await connectOrThrow(connection, this.#address);
      const clientId = Number(await connection.call('CLIENT', 'ID'));
      this.#assertOpen();
      consumer = new RedisConsumer(this, connection, clientId, queue, prefetch, onDelivery);
      this.#consumers.add(consumer);
      return consumer;
    } catch (error) {
      connection.disconnect();
      throw error;
    }
  }

  async openInbox(onReply: (payload: Uint8Array, correlationId: string | undefined) => void): Promise<string> {
    this.#assertOpen();
    const subscriber = await (this.#subscriber ??= this.#openSubscriber());
    const channel = `${INBOX_PREFIX}${randomUUID()}`;
    this.#inboxes.set(channel, onReply);
    await subscriber.subscribe(channel);
    return channel;
  }

  async closeInbox(address: string): Promise<void> {
    this.#assertOpen();
    if (!this.#inboxes.delete(address)) return;
    const subscriber = await this.#subscriber!;
    await subscriber.unsubscribe(address);
  }

  async reply(replyTo: string, payload: Uint8Array, correlationId: string | undefined): Promise<void> {
    this.#assertOpen();
    if (replyTo.startsWith(INBOX_PREFIX)) {
      await this.#main.callBuffer('PUBLISH', replyTo, encodeReply(payload, correlationId));
    } else {
      await this.publish(replyTo, payload, correlationId === undefined ? {} : { correlationId });
    }
  }

  onLost(listener: (error: Error) => void): void {
    this.#lostListeners.push(listener);
  }

  close(): Promise<void> {
    if (this.#state === 'lost') return Promise.resolve();
    return this.#closing ??= this.#close();
  }

  async #close(): Promise<void> {
    this.#state = 'closing';
    await Promise.all([...this.#consumers].map((consumer) => consumer.stop()));
    // Unsettled deliveries go back at once, so another consumer need not wait redeliverAfter.
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.requeueHeld()));
    this.#consumers.clear();
    clearInterval(this.#heartbeat);
    const subscriber = await this.#subscriber?.catch(() => undefined);
    await Promise.allSettled([quit(this.#main), subscriber && quit(subscriber)]);
    this.#state = 'closed';
  }

  /** Creates `queue`'s stream and group once per transport; a group made before is fine. */
  async ensureQueue(queue: string): Promise<void> {
    if (this.#readyQueues.has(queue)) return;
    try {
      await this.#main.call('XGROUP', 'CREATE', streamKey(queue), GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    }
    this.#readyQueues.add(queue);
  }

  /** Forgets that `queue` was set up (its stream was deleted behind our back). */
  forgetQueue(queue: string): void {
    this.#readyQueues.delete(queue);
  }

  /** Removes an entry from its queue, adding `copy` as a new entry in the same step if given. */
  async settle(queue: string, id: string, copy: Buffer[] | undefined): Promise<void> {
    if (this.#state === 'lost' || this.#state === 'closed') throw this.#closedError();
    const args = [streamKey(queue), GROUP, id, ...(copy ?? [])];
    try {
      await this.#main.callBuffer('EVALSHA', SETTLE_SHA, 1, ...args);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      await this.#main.callBuffer('EVAL', SETTLE_SCRIPT, 1, ...args);
    }
  }

  /** Keeps `ids` owned by `consumer`: resets their idle time so no one claims them. */
  async refresh(queue: string, consumer: string, ids: string[]): Promise<void> {
    await this.#main.call('XCLAIM', streamKey(queue), GROUP, consumer, 0, ...ids, 'JUSTID');
  }

  /** Makes a blocked XREADGROUP on the connection `clientId` return now. */
  async unblock(clientId: number): Promise<void> {
    await this.#main.call('CLIENT', 'UNBLOCK', clientId);
  }

  forget(consumer: RedisConsumer): void {
    if (this.#state === 'open') this.#consumers.delete(consumer);
  }

  async #openSubscriber(): Promise<Redis> {
    const subscriber = createConnection(this.#url, this.#options, {});
    this.watch(subscriber);
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      const onReply = this.#inboxes.get(channel.toString());
      const reply = decodeReply(message);
      if (onReply && reply) onReply(reply.payload, reply.correlationId);
    });
    try {
      await connectOrThrow(subscriber, this.#address);
      return subscriber;
    } catch (error) {
      this.#subscriber = undefined;
      subscriber.disconnect();
      throw error;
    }
  }

  async #beat(): Promise<void> {
    if (this.#beating || this.#state !== 'open') return;
    this.#beating = true;
    try {
      await Promise.allSettled([...this.#consumers].map((consumer) => consumer.refreshHeld()));
    } finally {
      this.#beating = false;
    }
  }

  #lose(error: Error): void {
    this.#state = 'lost';
    clearInterval(this.#heartbeat);
    this.#lostError = error;
    for (const consumer of this.#consumers) consumer.abort();
    this.#main.disconnect();
    void this.#subscriber?.then((subscriber) => subscriber.disconnect(), () => undefined);
    for (const listener of this.#lostListeners) listener(error);
  }

  #assertOpen(): void {
    if (this.#state !== 'open') throw this.#closedError();
  }

  #closedError(): Error {
    if (this.#state === 'lost') return new ConnectionClosedError('the redis connection was lost', { cause: this.#lostError });
    return new ConnectionClosedError('the redis transport is closed');
  }
}

class RedisConsumer implements TransportConsumer {
  readonly #transport: RedisTransport;
  readonly #connection: Redis;
  readonly #clientId: number;
  readonly #queue: string;
  readonly #key: string;
  readonly #name = `weft-${randomUUID()}`;
  readonly #prefetch: number;
  readonly #onDelivery: (delivery: Delivery) => void;
  /** Delivered and not yet settled, by entry id. */
  readonly #held = new Map<string, HeldEntry>();
  readonly #claimEvery: number;
  #nextClaimAt = 0;
  #claimCursor = '0-0';
  #stopping = false;
  #wake: (() => void) | undefined;
  readonly #loop: Promise<void>;
  #stopped: Promise<void> | undefined;

  constructor(
    transport: RedisTransport, connection: Redis, clientId: number,
    queue: string, prefetch: number, onDelivery: (delivery: Delivery) => void,
  ) {
    this.#transport = transport;
    this.#connection = connection;
    this.#clientId = clientId;
    this.#queue = queue;
    this.#key = streamKey(queue);
    this.#prefetch = prefetch;
    this.#onDelivery = onDelivery;
    this.#claimEvery = Math.max(10, Math.floor(transport.redeliverAfter / 2));
    this.#loop = this.#run();
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  async cancel(): Promise<void> {
    await this.stop();
    if (this.#held.size === 0) this.#transport.forget(this);
  }

  /** Ends the read loop and closes this consumer's connection; held deliveries stay held. */
  stop(): Promise<void> {
    return this.#stopped ??= this.#stop();
  }

  /** Puts every unsettled delivery back in the queue, marked redelivered. */
  async requeueHeld(): Promise<void> {
    const held = [...this.#held];
    this.#held.clear();
    await Promise.allSettled(held.map(([id, entry]) => {
      entry.settled = true;
      return this.#transport.settle(this.#queue, id, redeliveredCopy(entry.fields));
    }));
  }

  /** Ends the read loop at once, without the server: the transport is lost. */
  abort(): void {
    this.#stopping = true;
    this.#wake?.();
    this.#connection.disconnect();
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    let ended = false;
    const loopEnded = this.#loop.then(() => { ended = true; });
    // The loop may be blocked in XREADGROUP for up to MAX_BLOCK_MS: unblock it. An unblock
    // can reach the server before the read it targets, so repeat it a few times.
    for (let attempt = 0; !ended && attempt < 5; attempt++) {
      await this.#transport.unblock(this.#clientId).catch(() => undefined);
      await Promise.race([loopEnded, delay(50)]);
    }
    await Promise.race([loopEnded, delay(MAX_BLOCK_MS + 500)]);
    if (!ended) this.#connection.disconnect();
    // Bounded too: a loop stuck in a command of a lost connection must not hold close() forever
    // (seen on Node 24 after the server went away); with #stopping set it ends when that settles.
    await Promise.race([loopEnded, delay(MAX_BLOCK_MS)]);
    await quit(this.#connection);
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      try {
        if (Date.now() >= this.#nextClaimAt) {
          this.#nextClaimAt = Date.now() + this.#claimEvery;
          const free = this.#prefetch - this.#held.size;
          if (free > 0) await this.#claim(free);
          continue;
        }
        const free = this.#prefetch - this.#held.size;
        const untilClaim = this.#nextClaimAt - Date.now();
        if (free <= 0) await this.#waitForSettle(untilClaim);
        else await this.#read(free, Math.min(MAX_BLOCK_MS, untilClaim));
      } catch (error) {
        if (this.#stopping) break;
        if (error instanceof Error && error.message.startsWith('NOGROUP')) {
          this.#transport.forgetQueue(this.#queue);
          await this.#transport.ensureQueue(this.#queue).catch(() => undefined);
        }
        await delay(READ_RETRY_MS);
      }
    }
  }

  async #read(count: number, blockMs: number): Promise<void> {
    const reply = await this.#connection.callBuffer(
      'XREADGROUP', 'GROUP', GROUP, this.#name, 'COUNT', count, 'BLOCK', Math.max(1, blockMs), 'STREAMS', this.#key, '>',
    );
    if (reply === null) return;
    const [[, entries]] = reply as Array<[Buffer, RawEntry[]]>;
    await this.#accept(entries, false);
  }

  /** Takes over entries that other (presumably dead) consumers left pending too long. */
  async #claim(count: number): Promise<void> {
    const reply = await this.#connection.callBuffer(
      'XAUTOCLAIM', this.#key, GROUP, this.#name, this.#transport.redeliverAfter, this.#claimCursor, 'COUNT', count,
    );
    const [next, entries] = reply as [Buffer, RawEntry[], Buffer[]?];
    this.#claimCursor = next.toString();
    // More entries may wait past the cursor: go on claiming at the next turn.
    if (this.#claimCursor !== '0-0') this.#nextClaimAt = 0;
    // One of our own held entries comes back here only if a heartbeat was late: still ours.
    await this.#accept(entries.filter(([id]) => !this.#held.has(id.toString())), true);
  }

  /** Resets the idle time of the held deliveries, so that no other consumer claims them. */
  async refreshHeld(): Promise<void> {
    if (this.#held.size === 0) return;
    await this.#transport.refresh(this.#queue, this.#name, [...this.#held.keys()]);
  }

  async #accept(entries: RawEntry[], claimed: boolean): Promise<void> {
    for (const [rawId, fields] of entries) {
      const id = rawId.toString();
      // Deleted before we got it (Redis < 7 still lists such entries): nothing to deliver.
      if (fields === null) {
        await this.#transport.settle(this.#queue, id, undefined);
      } else if (this.#stopping) {
        // Read after stop() began: give it back; a claimed one was delivered before.
        await this.#transport.settle(this.#queue, id, claimed ? redeliveredCopy(fields) : fields);
      } else {
        this.#deliver(id, fields, claimed);
      }
    }
  }

  #deliver(id: string, fields: Buffer[], claimed: boolean): void {
    const entry: HeldEntry = { fields, settled: false };
    this.#held.set(id, entry);
    const message = parseFields(fields);
    const settle = (copy: Buffer[] | undefined): Promise<void> => {
      if (entry.settled) return Promise.resolve();
      entry.settled = true;
      this.#held.delete(id);
      this.#wake?.();
      if (this.#stopping && this.#held.size === 0) this.#transport.forget(this);
      return this.#transport.settle(this.#queue, id, copy);
    };
    const delivery: Delivery = {
      payload: message.payload,
      headers: message.headers,
      ...(message.replyTo === undefined ? {} : { replyTo: message.replyTo }),
      ...(message.correlationId === undefined ? {} : { correlationId: message.correlationId }),
      redelivered: claimed || message.redelivered,
      ack: () => settle(undefined),
      nack: (requeue: boolean) => settle(requeue ? redeliveredCopy(fields) : undefined),
    };
    // A throwing handler must not stop the loop; its message stays held until settled or close().
    try {
      this.#onDelivery(delivery);
    } catch {
      // BrokerClient reports its handlers' errors itself.
    }
  }

  #waitForSettle(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(1, timeoutMs));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }
}

function entryFields(payload: Uint8Array, properties: TransportProperties): Array<string | Buffer> {
  const fields: Array<string | Buffer> = ['p', Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)];
  if (properties.replyTo !== undefined) fields.push('r', properties.replyTo);
  if (properties.correlationId !== undefined) fields.push('c', properties.correlationId);
  if (properties.headers && Object.keys(properties.headers).length > 0) fields.push('h', JSON.stringify(properties.headers));
  return fields;
}

function parseFields(fields: Buffer[]): TransportProperties & { payload: Uint8Array; headers: Record<string, string>; redelivered: boolean } {
  const message = { payload: new Uint8Array(0), headers: {} as Record<string, string>, redelivered: false } as
    TransportProperties & { payload: Uint8Array; headers: Record<string, string>; redelivered: boolean };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]!;
    switch (fields[i]!.toString()) {
      case 'p': message.payload = new Uint8Array(value); break;
      case 'r': message.replyTo = value.toString(); break;
      case 'c': message.correlationId = value.toString(); break;
      case 'h': message.headers = JSON.parse(value.toString()) as Record<string, string>; break;
      case 'd': message.redelivered = true; break;
    }
  }
  return message;
}

/** The fields of an entry, marked so that its next delivery says redelivered. */
function redeliveredCopy(fields: Buffer[]): Buffer[] {
  const copy: Buffer[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i]!.toString() !== 'd') copy.push(fields[i]!, fields[i + 1]!);
  }
  copy.push(Buffer.from('d'), Buffer.from('1'));
  return copy;
}

/**
 * A reply on an inbox channel: 2 bytes big-endian length of the correlationId's UTF-8 bytes
 * (0xFFFF when there is none), those bytes, then the payload.
 */
const NO_CORRELATION_ID = 0xffff;

function encodeReply(payload: Uint8Array, correlationId: string | undefined): Buffer {
  const id = correlationId === undefined ? Buffer.alloc(0) : Buffer.from(correlationId, 'utf8');
  if (id.length >= NO_CORRELATION_ID) throw new RangeError('correlationId is too long for a redis reply');
  const envelope = Buffer.allocUnsafe(2 + id.length + payload.byteLength);
  envelope.writeUInt16BE(correlationId === undefined ? NO_CORRELATION_ID : id.length, 0);
  id.copy(envelope, 2);
  envelope.set(payload, 2 + id.length);
  return envelope;
}

function decodeReply(envelope: Buffer): { payload: Uint8Array; correlationId: string | undefined } | undefined {
  if (envelope.length < 2) return undefined;
  const idLength = envelope.readUInt16BE(0);
  if (idLength === NO_CORRELATION_ID) return { payload: new Uint8Array(envelope.subarray(2)), correlationId: undefined };
  if (envelope.length < 2 + idLength) return undefined;
  return {
    correlationId: envelope.toString('utf8', 2, 2 + idLength),
    payload: new Uint8Array(envelope.subarray(2 + idLength)),
  };
}

function serverAddress(url: URL): string {
  return `${url.hostname || 'localhost'}:${url.port || '6379'}`;
}

/**
 * A connection that does not connect yet. Commands issued while it is down fail after a few
 * reconnection attempts (so publish rejects in bounded time); it gives up for good (`end`,
 * then onLost) once it stayed down longer than `connectTimeout`.
 */
function createConnection(url: URL, options: TransportOptions, extra: Partial<RedisOptions>): Redis {
  const plain = new URL(url.href);
  plain.search = '';
  plain.hash = '';
  let downSince: number | undefined;
  const connection = new Redis(plain.href, {
    lazyConnect: true,
    protocol: 2,
    connectTimeout: options.connectTimeout,
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
    // disconnect() arms a timer this long even for a socket that already closed (a failed
    // connect): a short one does not hold the process after a failed open.
    disconnectTimeout: 200,
    // ioredis reads the scheme of a URL but does not turn TLS on for rediss:// itself.
    ...(url.protocol === 'rediss:' ? { tls: isIP(url.hostname) ? {} : { servername: url.hostname } } : {}),
    retryStrategy: (attempt) => {
      downSince ??= Date.now();
      if (Date.now() - downSince > options.connectTimeout) return null;
      return Math.min(attempt * 100, 1000);
    },
    ...extra,
  });
  connection.on('ready', () => { downSince = undefined; });
  // An 'error' without a listener would crash the process; failures surface elsewhere.
  connection.on('error', () => undefined);
  return connection;
}

/** Connects, or rejects with ConnectionClosedError (and stops reconnecting) on the first failure. */
async function connectOrThrow(connection: Redis, address: string): Promise<void> {
  let firstError: Error | undefined;
  const onError = (error: Error): void => { firstError ??= error; };
  connection.on('error', onError);
  try {
    await connection.connect();
  } catch (error) {
    connection.disconnect();
    const cause = firstError ?? error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ConnectionClosedError(`could not connect to redis at ${address}: ${reason}`, { cause });
  } finally {
    connection.off('error', onError);
  }
}

/** Closes politely, or hard if the server does not answer. */
async function quit(connection: Redis): Promise<void> {
  if (connection.status === 'end') return;
  try {
    await Promise.race([connection.quit(), delay(1000).then(() => { throw new Error('quit timed out'); })]);
  } catch {
    connection.disconnect();
  }
}

/** A pause that does not keep the process alive (the connections do, while they are open). */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
