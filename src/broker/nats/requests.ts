/**
 * Requests of a NATS transport (JetStream publishes, ack confirmations) without nats.js's
 * request(): that one builds up to three Errors with stack traces per call (its async trace,
 * its timeout's, and a Cancelled error once answered), a tenth of the adapter's CPU per
 * request(). Here: one wildcard inbox subscription per connection, a token per request, and one
 * interval timer, while requests wait, that expires what waited too long.
 *
 *   request(subject) ─▶ PUB subject, reply <inbox>.<token> ─▶ server ─▶ <inbox>.<token> ─▶ its waiter
 */
import type { Msg, MsgHdrs, NatsConnection, Subscription } from 'nats';
import { peer } from '../../peers/load.js';

interface Waiter {
  resolve(msg: Msg): void;
  reject(error: Error): void;
  /** performance.now() past which it times out. */
  deadline: number;
  subject: string;
}

export class NatsRequests {
  readonly #nc: NatsConnection;
  readonly #timeout: number;
  readonly #prefix: string;
  readonly #pending = new Map<string, Waiter>();
  #subscription: Subscription | undefined;
  #next = 0;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(nc: NatsConnection, timeoutMs: number) {
    this.#nc = nc;
    this.#timeout = timeoutMs;
    this.#prefix = `${peer('nats').createInbox()}.`;
  }

  /**
   * Resolves with the answer; rejects with the server's status (a 503: nobody listens on the
   * subject, such as a stream that was deleted) or when none came within the timeout.
   */
  request(subject: string, payload: Uint8Array, headers?: MsgHdrs): Promise<Msg> {
    this.#subscription ??= this.#nc.subscribe(`${this.#prefix}*`, { callback: (error, msg) => { if (!error) this.#answer(msg); } });
    const token = (this.#next++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      this.#pending.set(token, { resolve, reject, deadline: performance.now() + this.#timeout, subject });
      try {
        this.#nc.publish(subject, payload, headers ? { reply: this.#prefix + token, headers } : { reply: this.#prefix + token });
      } catch (error) {
        this.#pending.delete(token);
        reject(error as Error);
        return;
      }
      if (this.#sweeper === undefined) {
        this.#sweeper = setInterval(() => this.#sweep(), Math.max(10, Math.min(1000, this.#timeout / 4)));
        this.#sweeper.unref();
      }
    });
  }

  /** Fails every request still waiting (the connection is closing or gone). */
  close(error: Error): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    const waiters = [...this.#pending.values()];
    this.#pending.clear();
    for (const waiter of waiters) waiter.reject(error);
  }

  #answer(msg: Msg): void {
    const token = msg.subject.slice(this.#prefix.length);
    const waiter = this.#pending.get(token);
    if (!waiter) return; // timed out before
    this.#pending.delete(token);
    const code = msg.headers?.code ?? 0;
    if (code >= 300) {
      const reason = code === 503 ? 'no responders: nothing on the server takes this subject' : msg.headers?.description || 'an error status';
      waiter.reject(new Error(`NATS answered ${code} to a request on ${waiter.subject}: ${reason}`));
    } else {
      waiter.resolve(msg);
    }
  }

  #sweep(): void {
    const now = performance.now();
    for (const [token, waiter] of this.#pending) {
      if (waiter.deadline > now) continue;
      this.#pending.delete(token);
      waiter.reject(new Error(`no answer from NATS within ${this.#timeout} ms to a request on ${waiter.subject}`));
    }
    // Stopped only once idle for a whole period: not a timer made and cleared per request.
    if (this.#pending.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}

/**
 * A JetStream publish: resolves once the stream stored the message (its PubAck), rejects with
 * the server's reason otherwise.
 */
export async function publishToStream(requests: NatsRequests, subject: string, payload: Uint8Array, headers: MsgHdrs): Promise<void> {
  const answer = await requests.request(subject, payload, headers);
  let ack: { stream?: string; error?: { code?: number; err_code?: number; description?: string } };
  try {
    ack = JSON.parse(new TextDecoder().decode(answer.data)) as typeof ack;
  } catch {
    throw new Error(`NATS answered a publish to ${subject} with something that is not a JetStream ack`);
  }
  if (ack.error) {
    throw Object.assign(new Error(`JetStream refused a publish to ${subject}: ${ack.error.description ?? 'no reason given'} (${ack.error.err_code ?? ack.error.code})`), { api_error: ack.error });
  }
  if (!ack.stream) throw new Error(`NATS answered a publish to ${subject} without naming a stream: no stream stored it`);
}
