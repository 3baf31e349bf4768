import type { Broker } from '../../broker/types.js';
import { RESULT, RESULTS } from './messages.js';
import type { Held } from './settler.js';

/**
 * The worker's outcomes on their way back to the submitters, coalesced: the replies of tasks
 * that end close together leave in one write, followed by the acknowledgements of the messages
 * they complete.
 *
 *   post(held, [id, ok, value, attempts]) ─▶ a task that came in a batch: pending
 *     ──(setImmediate: after this turn's ends)──▶ one RESULTS per submitter inbox (up to
 *     GROUP_BYTES); a task that came alone: at once, one RESULT (as before batches, for any
 *     submitter) ─▶ send
 *     ─▶ close each task's parcel (the message's ack once its last task is closed): in the same
 *        turn where the transport keeps a reply before a later ack (repliesPrecedeAcks, so both
 *        leave in one write), else once the reply is confirmed
 *
 * A reply that cannot be sent (the connection is down) leaves its task unclosed and given back:
 * the message is delivered again, and its next delivery sends the stored outcome.
 */
export interface OutboxHost {
  broker(): Broker | undefined;
  /** A task whose outcome could not be sent: its message goes back to the queue. */
  giveBack(held: Held): Promise<void>;
  log(line: string): void;
}

export type ResultReply = [id: string, ok: boolean, value: unknown, attempts: number];

/** A RESULTS reply holds outcomes of at most this many encoded bytes in all (a larger one goes alone): far below every broker's message limit. */
const GROUP_BYTES = 64 * 1024;

interface Posted {
  held: Held;
  reply: ResultReply;
  bytes: number;
  done(): void;
}

export class ReplyOutbox {
  readonly #host: OutboxHost;
  #pending: Posted[] = [];
  #scheduled = false;

  constructor(host: OutboxHost) {
    this.#host = host;
  }

  /**
   * Sends `reply` (an outcome of `bytes` bytes when encoded) to the task's submitter, then
   * closes the task. Resolves once both are done or the task was given back; never rejects.
   */
  post(held: Held, reply: ResultReply, bytes: number): Promise<void> {
    return new Promise((done) => {
      const posted = { held, reply, bytes, done };
      // A task that came alone is answered alone, now: waiting would only add to its round trip.
      if (!held.parcel.batched) return this.#send([posted]);
      this.#pending.push(posted);
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(this.#flush);
    });
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const posted = this.#pending;
    this.#pending = [];
    this.#send(posted);
  };

  #send(posted: Posted[]): void {
    const broker = this.#host.broker();
    const groups = new Map<string, Posted[][]>();
    for (const p of posted) {
      const replyTo = p.held.message.replyTo;
      if (replyTo === undefined) {
        this.#close([p], Promise.resolve(), true);
        continue;
      }
      const lists = groups.get(replyTo) ?? [];
      groups.set(replyTo, lists);
      const last = lists.at(-1);
      const size = last?.reduce((sum, q) => sum + q.bytes, 0) ?? 0;
      if (last && p.held.parcel.batched && last[0]!.held.parcel.batched && size + p.bytes <= GROUP_BYTES) last.push(p);
      else lists.push([p]);
    }
    const precede = broker !== undefined && repliesPrecedeAcks(broker);
    for (const [replyTo, lists] of groups) {
      for (const list of lists) {
        let sent: Promise<void>;
        if (!broker) sent = Promise.reject(new Error('no broker connection to report the outcome on'));
        else if (list.length === 1) sent = broker.send(replyTo, [RESULT, ...list[0]!.reply]);
        else sent = broker.send(replyTo, [RESULTS, list.map((p) => p.reply)]);
        this.#close(list, sent, precede);
      }
    }
  }

  /** Closes each task once its reply is sent (in this turn where replies precede acks). */
  #close(list: Posted[], sent: Promise<void>, precede: boolean): void {
    if (precede) {
      // Issued now, after the send: both leave in one write. A send that fails on a lost
      // connection fails the ack after it too: the message is delivered again. A batch whose
      // ack is still to come (other tasks run) must not be acknowledged then: the submitter
      // would never hear of this task.
      const closes = list.map((p) => p.held.parcel.close(p.held));
      const reported = sent.catch((error: Error) => {
        if (!(error instanceof TypeError || error instanceof RangeError)) for (const p of list) p.held.parcel.markFailed();
        this.#unsent(list, error);
      });
      const all = Promise.all([reported, ...closes]);
      void all.catch(() => {}).finally(() => { for (const p of list) p.done(); });
      return;
    }
    void sent.then(
      () => Promise.all(list.map((p) => p.held.parcel.close(p.held))),
      (error: Error) => {
        if (error instanceof TypeError || error instanceof RangeError) {
          this.#unsent(list, error);
          return Promise.all(list.map((p) => p.held.parcel.close(p.held)));
        }
        return Promise.all(list.map((p) => this.#host.giveBack(p.held)));
      },
    ).catch(() => {}).finally(() => { for (const p of list) p.done(); });
  }

  #unsent(list: Posted[], error: Error): void {
    for (const p of list) this.#host.log(`the outcome of task ${p.reply[0]} could not reach its submitter (it is stored, if the worker has a result backend): ${error.message}`);
  }
}

export function repliesPrecedeAcks(broker: Broker): boolean {
  return (broker as { repliesPrecedeAcks?: boolean }).repliesPrecedeAcks === true;
}
