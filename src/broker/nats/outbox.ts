/**
 * What a NATS transport writes while work flows, gathered per turn of the event loop: replies to
 * inboxes, acks, naks and terms. nats.js writes what was issued before its next microtask in one socket
 * write, so issuing a turn's replies and acks together makes one write of them (a handler's
 * reply and its message's ack were two: the ack waited for the reply's flush).
 *
 *   reply(inbox) ─────────┐
 *   settle(-NAK | +TERM) ─┼─(nextTick)─▶ the replies, in order; the naks and terms; then per
 *   ack(msg) ─────────────┘              durable +ACK, +ACK, …, the last +ACK as a request ─▶ its
 *                                        answer confirms the batch (no ack: a flush, PING/PONG)
 *
 * Order: replies leave before the acks, naks and terms of their turn
 * (BrokerTransport.repliesPrecedeAcks), on one connection, which the server reads in order. JetStream handles a consumer's acks in the
 * order received, so the answer to the last ack proves every ack before it arrived too, and
 * every reply before them: one confirmation (one request's inbox token and timer) per batch,
 * not per message.
 */
import type { MsgHdrs, NatsConnection } from 'nats';
import type { NatsRequests } from './requests.js';

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

interface Reply {
  subject: string;
  payload: Uint8Array;
  headers: MsgHdrs;
}

export class NatsOutbox {
  readonly #nc: NatsConnection;
  readonly #requests: NatsRequests;
  readonly #ack: Uint8Array;
  #replies: Reply[] = [];
  /** Naks and terms: ack subject, then what it takes. */
  #settles: Array<[subject: string, verdict: Uint8Array]> = [];
  /** Ack subjects by durable (`$JS.ACK.<stream>.<consumer>`). */
  #acks = new Map<string, string[]>();
  #waiters: Waiter[] = [];
  #done: Promise<void> | undefined;
  #scheduled = false;
  /** Set while acks must wait (holdAcks). */
  #gate: Promise<void> | undefined;

  constructor(nc: NatsConnection, requests: NatsRequests, ack: Uint8Array) {
    this.#nc = nc;
    this.#requests = requests;
    this.#ack = ack;
  }

  /** Resolves once the server has the reply (confirmed with the rest of its turn). */
  reply(subject: string, payload: Uint8Array, headers: MsgHdrs): Promise<void> {
    this.#replies.push({ subject, payload, headers });
    return this.#batch();
  }

  /** A nak or a term (`verdict`) to a message's ack subject; resolves once the server has read it. */
  settle(subject: string, verdict: Uint8Array): Promise<void> {
    this.#settles.push([subject, verdict]);
    return this.#batch();
  }

  /** Resolves once the server has confirmed this ack (or one sent after it to the same durable). */
  ack(subject: string): Promise<void> {
    const durable = durableOf(subject);
    const subjects = this.#acks.get(durable);
    if (subjects) subjects.push(subject);
    else this.#acks.set(durable, [subject]);
    return this.#batch();
  }

  /**
   * The acks, naks and terms issued from now on wait until `until` settles (a reply to a queue
   * whose stream is being made, issued before them, must reach the server first). Replies do not wait.
   */
  holdAcks(until: Promise<unknown>): void {
    const gate: Promise<void> = Promise.allSettled([this.#gate, until]).then(() => {
      if (this.#gate === gate) this.#gate = undefined;
    });
    this.#gate = gate;
  }

  /** Writes what is gathered now (before the connection drains on close). */
  flush(): void {
    this.#scheduled = false;
    const replies = this.#replies;
    const settles = this.#settles;
    const acks = this.#acks;
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#replies = [];
    this.#settles = [];
    this.#acks = new Map();
    this.#waiters = [];
    this.#done = undefined;
    let confirmed: Promise<unknown>;
    try {
      for (const { subject, payload, headers } of replies) this.#nc.publish(subject, payload, { headers });
      if (this.#gate === undefined) confirmed = this.#writeSettles(settles, acks);
      else confirmed = this.#gate.then(() => this.#writeSettles(settles, acks));
    } catch (error) {
      confirmed = Promise.reject(error as Error);
    }
    confirmed.then(
      () => { for (const waiter of waiters) waiter.resolve(); },
      (error: Error) => { for (const waiter of waiters) waiter.reject(error); },
    );
  }

  /**
   * The naks and terms; then per durable every ack but the last as a publish, the last as a
   * request. Resolves once every request is answered, or without acks once a flush is.
   */
  #writeSettles(settles: Array<[string, Uint8Array]>, acks: Map<string, string[]>): Promise<unknown> {
    for (const [subject, verdict] of settles) this.#nc.publish(subject, verdict);
    if (acks.size === 0) return this.#nc.flush();
    const confirmations: Promise<unknown>[] = [];
    for (const subjects of acks.values()) {
      const last = subjects.length - 1;
      for (let i = 0; i < last; i++) this.#nc.publish(subjects[i]!, this.#ack);
      confirmations.push(this.#requests.request(subjects[last]!, this.#ack));
    }
    return confirmations.length === 1 ? confirmations[0]! : Promise.all(confirmations);
  }

  /** The promise of the batch being gathered: one per batch, shared by its replies and acks. */
  #batch(): Promise<void> {
    if (this.#done === undefined) {
      this.#done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(() => this.flush());
    }
    return this.#done;
  }
}

/**
 * The durable an ack subject belongs to: `$JS.ACK.<stream>.<consumer>` of
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`, or with the domain
 * and account hash first (`$JS.ACK.<domain>.<hash>.<stream>.<consumer>...`).
 */
function durableOf(subject: string): string {
  const tokens = subject.split('.');
  return tokens.slice(0, tokens.length === 9 ? 4 : 6).join('.');
}
