/**
 * The bare clients of `weft bench broker`: ioredis, amqplib and nats.js used directly, doing the
 * same work as weft's row on the same server, so that every run prints how near each adapter
 * is to its own client library (the adapter's overhead, not the server's speed):
 *   - throughput: WINDOW publishes in flight, each confirmed by the server, and one consumer on
 *     a second connection taking WINDOW at a time, acknowledging each message after it counted it;
 *   - round trip: the client's own request/reply, answered on a second connection.
 *
 *   publish ─▶ server ─▶ consumer (2nd connection) ─▶ ack            each bare throughput run
 *   request ─▶ server ─▶ responder (2nd connection) ─▶ reply ─▶ requester   each bare round trip
 *
 * Bodies are the bench's body as JSON bytes (what a program using the client would send).
 * Queues are named as weft names them, so that removeQueues() deletes them at the end.
 */
import { openBareRedis } from './broker-bare-redis.js';
import { openBareAmqp } from './broker-bare-amqp.js';
import { openBareNats } from './broker-bare-nats.js';

export interface BareClient {
  /** The library, for the row's name: `ioredis`, `amqplib`, `nats.js`. */
  readonly library: string;
  /** What its round trip is, for the notes. */
  readonly roundTripIs: string;
  /** The queues it made, to remove at the end. */
  readonly queues: string[];
  /** Publishes `messages` bodies, `window` in flight; resolves with how many the consumer counted (fewer: it stalled). */
  throughput(messages: number, window: number, stallMs: number): Promise<number>;
  /** One request answered by the responder; resolves with the answer. */
  request(value: number): Promise<number>;
  close(): Promise<void>;
}

/** The bare client for a broker URL's scheme, or undefined where the bench has none (memory, weft, sqs, kafka). */
export function bareClientFor(url: string): ((queuePrefix: string, prefetch: number) => Promise<BareClient>) | undefined {
  const scheme = new URL(url).protocol;
  if (scheme === 'redis:' || scheme === 'rediss:') return (prefix, prefetch) => openBareRedis(url, prefix, prefetch);
  if (scheme === 'amqp:' || scheme === 'amqps:') return (prefix, prefetch) => openBareAmqp(url, prefix, prefetch);
  if (scheme === 'nats:') return (prefix, prefetch) => openBareNats(url, prefix, prefetch);
  return undefined;
}

/** The bench's body, as a bare client sends it. */
export function bareBody(id: number): Buffer {
  return Buffer.from(JSON.stringify({ id, name: 'weft' }));
}

/**
 * Counts what a consumer hands over until `messages` arrived, or until none came for `stallMs`
 * (a lost message shows as a short count, not a hang).
 */
export class Tally {
  count = 0;
  #target = Infinity;
  #done: (() => void) | undefined;

  /** Resolves with the count once `messages` arrived or the consumer stalled (as weft's rows: checked every stallMs / 2). */
  expect(messages: number, stallMs: number): Promise<number> {
    this.count = 0;
    this.#target = messages;
    return new Promise<number>((resolve) => {
      let seen = -1;
      const stall = setInterval(() => (this.count === seen ? this.#done?.() : (seen = this.count)), stallMs / 2);
      this.#done = () => {
        clearInterval(stall);
        this.#done = undefined;
        this.#target = Infinity;
        resolve(this.count);
      };
    });
  }

  add(n = 1): void {
    this.count += n;
    if (this.count >= this.#target) this.#done?.();
  }
}
