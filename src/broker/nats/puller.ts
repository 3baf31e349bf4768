/** The NATS adapter's pull loop: asks the shared durable for messages within a consumer's prefetch. */
import type { Msg, NatsConnection, Subscription } from 'nats';
import { peer } from '../../peers/load.js';
import { DURABLE } from './names.js';

/** How long one pull request waits on an empty queue before it is renewed (the server's minimum is 1 s). */
const PULL_EXPIRES = 10_000;
/** Pull requests one consumer keeps open at once: freed credit is asked for without waiting on a slow pull. */
const MAX_PULLS = 4;
/** Past a request's expiry, how long to wait for the server's 408 before counting the request as over. */
const PULL_GRACE = 1000;
/** After a failed pull (no connection, stream deleted) wait this long before asking again, not in a hot loop. */
const PULL_RETRY_DELAY = 500;
// What an ack subject takes: done, deliver again now, never deliver again.
export const ACK = new TextEncoder().encode('+ACK');
export const NAK = new TextEncoder().encode('-NAK');
export const TERM = new TextEncoder().encode('+TERM');
/** Still working on it: resets the message's ack_wait timer. */
export const WPI = new TextEncoder().encode('+WPI');

/**
 * Asks the durable for messages while this consumer has fewer than `prefetch` unsettled or
 * asked for: `unsettled + requested <= prefetch` holds at all times, so the server never hands
 * it more than prefetch at once. Each pull request has its own inbox, so what it brought and
 * when it ended (filled, expired, failed) are known exactly and the rest is asked for again.
 * Stopping drains the inboxes: a message already on its way is given back, not lost.
 */
export class Puller {
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
  #pullScheduled = false;

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

  /** One message settled: its credit is asked for again, with the others settled in this turn (one pull, not one each). */
  settled(): void {
    this.#unsettled--;
    if (this.#pullScheduled) return;
    this.#pullScheduled = true;
    process.nextTick(() => {
      this.#pullScheduled = false;
      this.#pull();
    });
  }

  #pull(): void {
    while (!this.#stopped && !this.#suspended && this.#retryTimer === undefined && this.#pulls.size < MAX_PULLS) {
      const batch = this.#prefetch - this.#unsettled - this.#requested;
      if (batch <= 0) return;
      this.#request(batch);
    }
  }

  #request(batch: number): void {
    const inbox = peer('nats').createInbox();
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
    this.#nc.publish(this.#nextSubject, jsonBytes({ batch, expires: peer('nats').nanos(PULL_EXPIRES) }), { reply: inbox });
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
export function ackSubject(msg: Msg): string {
  if (!msg.reply) throw new Error('a JetStream message without an ack subject');
  return msg.reply;
}

export function deliveryCount(reply: string | undefined): number {
  const tokens = reply?.split('.') ?? [];
  if (tokens[0] !== '$JS' || tokens[1] !== 'ACK') return 1;
  return Number(tokens[tokens.length === 9 ? 4 : 6]) || 1;
}

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

