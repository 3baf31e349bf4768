/**
 * Acks of one NATS transport, confirmed in batches: the acks issued in one turn of the event
 * loop (a puller's burst of handlers ending together) go out as plain publishes, except the
 * last of each durable, which is a request. JetStream handles a consumer's acks in the order
 * received, so the answer to that last one proves every ack before it arrived too: one
 * confirmation (and one request's inbox token and timer) per batch, not per message.
 *
 *   ack(msg) ──▶ pending[durable] ──(nextTick)──▶ +ACK, +ACK, … , +ACK as a request ─▶ its answer settles them all
 */
import type { NatsConnection } from 'nats';

interface PendingAcks {
  subjects: string[];
  waiters: Array<{ resolve(): void; reject(error: Error): void }>;
}

export class AckBatcher {
  readonly #nc: NatsConnection;
  readonly #ack: Uint8Array;
  readonly #timeout: number;
  #pending = new Map<string, PendingAcks>();
  #scheduled = false;

  constructor(nc: NatsConnection, ack: Uint8Array, timeoutMs: number) {
    this.#nc = nc;
    this.#ack = ack;
    this.#timeout = timeoutMs;
  }

  /** Resolves once the server has confirmed this ack (or one sent after it to the same durable). */
  ack(subject: string): Promise<void> {
    const durable = durableOf(subject);
    let batch = this.#pending.get(durable);
    if (!batch) this.#pending.set(durable, batch = { subjects: [], waiters: [] });
    const pending = batch;
    return new Promise<void>((resolve, reject) => {
      pending.subjects.push(subject);
      pending.waiters.push({ resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      process.nextTick(() => this.#flush());
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batches = this.#pending;
    this.#pending = new Map();
    for (const { subjects, waiters } of batches.values()) {
      try {
        for (let i = 0; i < subjects.length - 1; i++) this.#nc.publish(subjects[i]!, this.#ack);
        this.#nc.request(subjects[subjects.length - 1]!, this.#ack, { timeout: this.#timeout }).then(
          () => { for (const waiter of waiters) waiter.resolve(); },
          (error: Error) => { for (const waiter of waiters) waiter.reject(error); },
        );
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error as Error);
      }
    }
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
