import type { Broker, Message, RefusedMessage } from '../../broker/types.js';
import type { Parcel } from './parcel.js';
import { ReplyOutbox } from './reply-outbox.js';
import { CancelledError } from '../../core/errors.js';
import { Codec } from '../../remote/codec.js';
import type { ResultStore } from '../../results/store.js';
import { logger } from '../../log.js';
import { TRACEPARENT_HEADER } from '../../observe/traceparent.js';
import {
  MESSAGE_VERSION, RESULT, RETRYING, deadLetterQueue, readStoredResult,
  type DeadLetterRecord, type StoredResult, type TaskMessage,
} from './messages.js';

/**
 * The worker's side of a task's end, in the order that makes it durable (acks late):
 *
 *   failed, attempts left ─▶ publish a copy with attempt + 1 and a later notBefore (that task
 *            alone, also from a batch) ─▶ close
 *   otherwise ─▶ store the outcome (first settle wins) ─▶ failed: a dead letter in
 *            `<queue>.dead` ─▶ reply to the submitter (reply-outbox.ts: the replies of tasks
 *            that end together leave in one write) ─▶ close
 *   a duplicate run (another stored first) ─▶ its outcome dropped; the stored one is sent to
 *            the submitter ─▶ close
 *   close: the task is done with; its message is acknowledged once every task it carried is
 *            closed (parcel.ts: one task, or a batch)
 *
 * Nothing is acknowledged before what replaces it is on the server and the reply has left: a
 * crash anywhere in between redelivers the task, and its redelivered copy finds the stored
 * outcome and sends it to the submitter (the run that stored it may have died before its reply
 * left). A step that fails in a live worker (the connection is down) gives the message back
 * (nack, requeue) instead of acknowledging it.
 */
export interface Held {
  queue: string;
  /** The broker message the task came in (its parcel's). */
  message: Message<unknown>;
  task: TaskMessage;
  /** The message's other tasks, if it was a batch: it is settled once all are closed. */
  parcel: Parcel;
  /** Set by the parcel when this task is done with. */
  closed?: boolean;
}

export interface SettlerHost {
  store: ResultStore | undefined;
  resultTtl: number;
  worker: string;
  broker(): Broker | undefined;
  revoked(id: string): boolean;
  closing(): boolean;
  log(line: string): void;
}

/** A store write that fails (server restarting) is tried again this often, up to STORE_PATIENCE_MS. */
const STORE_RETRY_MS = 250;
const STORE_PATIENCE_MS = 60_000;

export class Settler {
  readonly #host: SettlerHost;
  readonly #codec = new Codec();
  readonly #pending = new Set<Promise<void>>();
  readonly #outbox: ReplyOutbox;
  #idleWaiters: (() => void)[] = [];
  /** Outcomes dropped because another run of the task had stored first. */
  duplicates = 0;

  constructor(host: SettlerHost) {
    this.#host = host;
    this.#outbox = new ReplyOutbox({ broker: () => host.broker(), giveBack: (held) => this.#giveBack(held), log: (line) => host.log(line) });
  }

  /** Progress and yielded values go straight to the submitter; none is kept. */
  notify(held: Held, op: number, value: unknown): void {
    const replyTo = held.message.replyTo;
    if (replyTo === undefined) return;
    this.#host.broker()?.send(replyTo, [op, held.task.id, value]).catch((error: Error) => {
      this.#host.log(`a value of task ${held.task.id} could not reach its submitter: ${error.message}`);
    });
  }

  finish(held: Held, ok: boolean, value: unknown): void {
    this.#track(this.#finish(held, ok, value).catch((error: Error) => {
      this.#host.log(`task ${held.task.id} could not be settled: ${error.message}`);
      return this.#giveBack(held);
    }));
  }

  /**
   * The tasks of a redelivered message whose outcome is stored already (they ran elsewhere, or
   * were cancelled): true for each that is, and then its stored outcome goes to the submitter
   * again before it is closed (the run that stored it may have died before its reply left), so
   * it is not run again. A batch asks the store once for all its tasks.
   */
  async settledBefore(helds: Held[]): Promise<boolean[]> {
    const store = this.#host.store;
    if (!store) return helds.map(() => false);
    let records: (Uint8Array | undefined)[];
    try {
      records = helds.length === 1 ? [await store.get(helds[0]!.task.id)] : await store.getMany(helds.map((held) => held.task.id));
    } catch {
      return helds.map(() => false); // cannot tell: run them; a second outcome is dropped when it is stored
    }
    return helds.map((held, i) => {
      const bytes = records[i];
      if (bytes === undefined) return false;
      this.#track(this.#replyStored(held, bytes).catch((error: Error) => {
        this.#host.log(`the stored outcome of task ${held.task.id} could not be sent again: ${error.message}`);
        return this.#giveBack(held);
      }));
      return true;
    });
  }

  /** A task that will not run (revoked when it was taken): closed without a word. */
  drop(held: Held): void {
    this.#track(Promise.resolve(held.parcel.close(held)).catch(() => {}));
  }

  /** A body that is not a task message: kept in the dead-letter queue with the reason. */
  deadLetterBody(queue: string, message: Message<unknown>, reason: Error): void {
    this.#track(this.#deadLetter(queue, {
      v: MESSAGE_VERSION, id: null, task: null, queue, args: null, attempts: 0, error: reason,
      failedAt: Date.now(), worker: this.#host.worker, message: null, raw: null, body: message.body,
    }).then(() => message.ack()).catch(() => {}));
  }

  /** A body that is not weft's (foreign content type, undecodable): dead-lettered as raw bytes. */
  refused(queue: string, reason: Error, message: RefusedMessage): void {
    this.#host.log(`${queue}: refused a message: ${reason.message}`);
    this.#track(this.#deadLetter(queue, {
      v: MESSAGE_VERSION, id: null, task: null, queue, args: null, attempts: 0, error: reason,
      failedAt: Date.now(), worker: this.#host.worker, message: null, raw: message.payload,
    }).then(() => message.ack()).catch(() => message.nack(false).catch(() => {})));
  }

  /** Resolves once no outcome is being stored or sent. */
  idle(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.#host.store?.close().catch(() => {});
  }

  // ---- internals ----------------------------------------------------------------------------

  async #finish(held: Held, ok: boolean, value: unknown): Promise<void> {
    const { task, message, queue } = held;
    const replyTo = message.replyTo;
    const broker = this.#host.broker();
    if (!ok && value instanceof CancelledError && this.#host.revoked(task.id)) {
      // Revoked: the submitter has settled it (and stored 'cancelled'); nothing more to say.
      return held.parcel.close(held);
    }
    if (!ok && task.attempt <= task.retries && !(value instanceof CancelledError)) {
      if (!broker) throw new Error('no broker connection to publish the retry on');
      const delay = task.retryDelay * 2 ** (task.attempt - 1) * (0.5 + Math.random() / 2);
      const next: TaskMessage = { ...task, attempt: task.attempt + 1, notBefore: Date.now() + delay };
      // The retry stays in the submitter's trace (the header is there only while it traces).
      const trace = message.headers[TRACEPARENT_HEADER];
      await broker.publish(queue, next, { ...(replyTo === undefined ? {} : { replyTo }), ...(trace === undefined ? {} : { headers: { [TRACEPARENT_HEADER]: trace } }) });
      if (replyTo !== undefined) broker.send(replyTo, [RETRYING, task.id, task.attempt, value]).catch(() => {});
      return held.parcel.close(held);
    }
    let record: StoredResult = [ok, value, task.attempt, this.#host.worker, Date.now()];
    let bytes: Buffer;
    try {
      bytes = this.#codec.encode(record);
    } catch (error) {
      const what = ok ? 'result' : 'error';
      record = [false, new TypeError(`the task's ${what} cannot be serialised: ${(error as Error).message}`), task.attempt, this.#host.worker, Date.now()];
      bytes = this.#codec.encode(record);
      ok = false;
    }
    if (this.#host.store && !(await this.#store(task.id, bytes))) {
      // Another run stored first: its outcome is the task's. The run that stored it may have
      // died before its reply left, so the submitter hears it (again) from here.
      this.duplicates++;
      const stored = await this.#host.store.get(task.id);
      if (stored !== undefined) return this.#replyStored(held, stored);
      return held.parcel.close(held);
    }
    const now = this.#host.broker();
    if (!now) throw new Error('no broker connection to report the outcome on');
    if (!ok) {
      logger().warn('task dead-lettered after its last attempt', { task: task.task, id: task.id, queue, attempts: task.attempt, error: record[1] });
      await this.#deadLetter(queue, {
        v: MESSAGE_VERSION, id: task.id, task: task.task, queue, args: task.args, attempts: task.attempt, error: record[1],
        failedAt: record[4], worker: this.#host.worker, message: task, raw: null,
      });
    }
    if (replyTo === undefined) return held.parcel.close(held);
    return this.#outbox.post(held, [task.id, record[0], record[1], task.attempt], bytes.length);
  }

  /**
   * A task whose end could not be completed sends its message back to its queue (nack, requeue;
   * a batch once its other tasks are closed too): its next delivery, here or elsewhere, finds
   * the stored outcomes and sends them, or runs the tasks anew. Left unsettled it would stay
   * this worker's as long as it lives (the transport renews its hold). Where the nack fails too (no connection), the server delivers it again after
   * redeliverAfter. The pause keeps a persistent failure from spinning.
   */
  async #giveBack(held: Held): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, STORE_RETRY_MS));
    await Promise.resolve().then(() => held.parcel.fail(held)).catch(() => {});
  }

  /** Sends a stored outcome to the task's submitter (which drops it if it has it already), then closes the task. */
  async #replyStored(held: Held, bytes: Uint8Array): Promise<void> {
    if (held.message.replyTo === undefined) return held.parcel.close(held);
    let record: StoredResult | undefined;
    try {
      record = readStoredResult(this.#codec.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
    } catch {
      record = undefined;
    }
    if (!record) return held.parcel.close(held); // not weft's record: nothing to tell
    return this.#outbox.post(held, [held.task.id, record[0], record[1], record[2]], bytes.byteLength);
  }

  /** Stores a final outcome; true when this run's outcome is the one kept. */
  async #store(id: string, bytes: Uint8Array): Promise<boolean> {
    const store = this.#host.store!;
    const deadline = Date.now() + STORE_PATIENCE_MS;
    for (;;) {
      try {
        return await store.settle(id, bytes, this.#host.resultTtl);
      } catch (error) {
        if (Date.now() > deadline || this.#host.closing()) throw error;
        await new Promise((resolve) => setTimeout(resolve, STORE_RETRY_MS));
      }
    }
  }

  async #deadLetter(queue: string, record: DeadLetterRecord): Promise<void> {
    const broker = this.#host.broker();
    if (!broker) throw new Error('no broker connection to dead-letter on');
    await broker.publish(deadLetterQueue(queue), record);
  }

  #track(work: Promise<void>): void {
    this.#pending.add(work);
    void work.finally(() => {
      this.#pending.delete(work);
      if (this.#pending.size === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    });
  }
}
