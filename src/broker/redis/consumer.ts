/**
 * One Redis consumer of a queue: its own connection for a blocking XREADGROUP loop, claim
 * rounds (XAUTOCLAIM) that take over entries other consumers left pending for redeliverAfter
 * ms (a crashed process's), and the deliveries it holds until they are settled.
 */
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { Delivery, TransportConsumer } from '../transport.js';
import { delay, quit } from './connection.js';
import { GROUP, parseFields, redeliveredCopy, streamKey, type RawEntry } from './entries.js';

/** Longest XREADGROUP block: bounds how late a claim round or a stop can be. */
export const MAX_BLOCK_MS = 1000;
/** Pause after a failed read before the next one, while ioredis reconnects. */
const READ_RETRY_MS = 200;

interface HeldEntry {
  fields: Buffer[];
  settled: boolean;
}

/** What a consumer asks of its transport (the shared connection, the queue's setup). */
export interface ConsumerHost {
  readonly redeliverAfter: number;
  ensureQueue(queue: string): Promise<void>;
  forgetQueue(queue: string): void;
  settle(queue: string, id: string, copy: Buffer[] | undefined): Promise<void>;
  refresh(queue: string, consumer: string, ids: string[]): Promise<void>;
  unblock(clientId: number): Promise<void>;
  /** Drops a stopped consumer that holds nothing (from the heartbeat, and from the group). */
  forget(consumer: RedisConsumer): Promise<void>;
}

export class RedisConsumer implements TransportConsumer {
  readonly #transport: ConsumerHost;
  readonly #connection: Redis;
  readonly #clientId: number;
  readonly #queue: string;
  readonly #key: string;
  readonly #name = `weft-${randomUUID()}`;
  readonly #prefetch: number;
  /** Reads more only once at most this many are held: one read per batch, not per settle. */
  readonly #refillAt: number;
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
    transport: ConsumerHost, connection: Redis, clientId: number,
    queue: string, prefetch: number, onDelivery: (delivery: Delivery) => void, refillAt: number,
  ) {
    this.#transport = transport;
    this.#connection = connection;
    this.#clientId = clientId;
    this.#queue = queue;
    this.#key = streamKey(queue);
    this.#prefetch = prefetch;
    this.#refillAt = refillAt;
    this.#onDelivery = onDelivery;
    this.#claimEvery = Math.max(10, Math.floor(transport.redeliverAfter / 2));
    this.#loop = this.#run();
  }

  get queue(): string {
    return this.#queue;
  }

  /** This consumer's name in the queue's group. */
  get name(): string {
    return this.#name;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  async cancel(): Promise<void> {
    await this.stop();
    if (this.#held.size === 0) await this.#transport.forget(this);
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
        if (free <= 0 || this.#held.size > this.#refillAt) await this.#waitForSettle(untilClaim);
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
    // A throwing handler must not stop the loop; its message stays held until settled or close().
    try {
      this.#onDelivery(new RedisDelivery(this, id, entry, claimed));
    } catch {
      // BrokerClient reports its handlers' errors itself.
    }
  }

  /** Settles a delivery once: later calls do nothing. `copy` requeues. */
  settleHeld(id: string, entry: HeldEntry, copy: Buffer[] | undefined): Promise<void> {
    if (entry.settled) return Promise.resolve();
    entry.settled = true;
    this.#held.delete(id);
    this.#wake?.();
    if (this.#stopping && this.#held.size === 0) void this.#transport.forget(this);
    return this.#transport.settle(this.#queue, id, copy);
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

/**
 * One delivered entry. A class, not an object of closures: its methods are shared, so a message
 * costs one object here (with its parsed fields) however it is settled.
 */
class RedisDelivery implements Delivery {
  readonly payload: Uint8Array;
  readonly headers: Record<string, string>;
  readonly redelivered: boolean;
  // Declared only: absent (not undefined) on a message without them, as the other adapters do.
  declare readonly replyTo?: string;
  declare readonly correlationId?: string;
  declare readonly contentType?: string;
  readonly #consumer: RedisConsumer;
  readonly #id: string;
  readonly #entry: HeldEntry;

  constructor(consumer: RedisConsumer, id: string, entry: HeldEntry, claimed: boolean) {
    const message = parseFields(entry.fields);
    this.payload = message.payload;
    this.headers = message.headers;
    this.redelivered = claimed || message.redelivered;
    const optional = this as { replyTo?: string; correlationId?: string; contentType?: string };
    if (message.replyTo !== undefined) optional.replyTo = message.replyTo;
    if (message.correlationId !== undefined) optional.correlationId = message.correlationId;
    if (message.contentType !== undefined) optional.contentType = message.contentType;
    this.#consumer = consumer;
    this.#id = id;
    this.#entry = entry;
  }

  ack(): Promise<void> {
    return this.#consumer.settleHeld(this.#id, this.#entry, undefined);
  }

  nack(requeue: boolean): Promise<void> {
    return this.#consumer.settleHeld(this.#id, this.#entry, requeue ? redeliveredCopy(this.#entry.fields) : undefined);
  }
}
