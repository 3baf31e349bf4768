import type { Broker, Message, RefusedMessage } from '../../broker/types.js';
import { CancelledError } from '../../core/errors.js';
import { Codec } from '../../remote/codec.js';
import type { ResultStore } from '../../results/store.js';
import {
  MESSAGE_VERSION, RESULT, RETRYING, deadLetterQueue, readStoredResult,
  type DeadLetterRecord, type StoredResult, type TaskMessage,
} from './messages.js';

/**
 * The worker's side of a task's end, in the order that makes it durable (acks late):
 *
 *   failed, attempts left ─▶ publish a copy with attempt + 1 and a later notBefore ─▶ ack
 *   otherwise ─▶ store the outcome (first settle wins) ─▶ failed: a dead letter in
 *            `<queue>.dead` ─▶ reply to the submitter ─▶ ack
 *   a duplicate run (another stored first) ─▶ its outcome dropped; the stored one is sent to
 *            the submitter ─▶ ack
 *
 * Nothing is acknowledged before what replaces it is on the server and the reply has left: a
 * crash anywhere in between redelivers the task, and its redelivered copy finds the stored
 * outcome and sends it to the submitter (the run that stored it may have died before its reply
 * left). A step that fails in a live worker (the connection is down) gives the message back
 * (nack, requeue) instead of acknowledging it.
 */
export interface Held {
  queue: string;
  message: Message<unknown>;
  task: TaskMessage;
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
  #idleWaiters: (() => void)[] = [];
  /** Outcomes dropped because another run of the task had stored first. */
  duplicates = 0;

  constructor(host: SettlerHost) {
    this.#host = host;
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
   * A redelivered task whose outcome is stored already (it ran elsewhere, or it was cancelled):
   * true when it is, and then its stored outcome goes to the submitter again before the ack
   * (the run that stored it may have died before its reply left), so the task is not run again.
   */
  async settledBefore(held: Held): Promise<boolean> {
    if (!this.#host.store) return false;
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.#host.store.get(held.task.id);
    } catch {
      return false; // cannot tell: run it; a second outcome is dropped when it is stored
    }
    if (bytes === undefined) return false;
    this.#track(this.#replyStored(held, bytes).then(() => held.message.ack()).catch((error: Error) => {
      this.#host.log(`the stored outcome of task ${held.task.id} could not be sent again: ${error.message}`);
      return this.#giveBack(held);
    }));
    return true;
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
      return message.ack();
    }
    if (!ok && task.attempt <= task.retries && !(value instanceof CancelledError)) {
      if (!broker) throw new Error('no broker connection to publish the retry on');
      const delay = task.retryDelay * 2 ** (task.attempt - 1) * (0.5 + Math.random() / 2);
      const next: TaskMessage = { ...task, attempt: task.attempt + 1, notBefore: Date.now() + delay };
      await broker.publish(queue, next, replyTo === undefined ? {} : { replyTo });
      if (replyTo !== undefined) broker.send(replyTo, [RETRYING, task.id, task.attempt, value]).catch(() => {});
      return message.ack();
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
      if (stored !== undefined) await this.#replyStored(held, stored);
      return message.ack();
    }
    const now = this.#host.broker();
    if (!now) throw new Error('no broker connection to report the outcome on');
    if (!ok) {
      await this.#deadLetter(queue, {
        v: MESSAGE_VERSION, id: task.id, task: task.task, queue, args: task.args, attempts: task.attempt, error: record[1],
        failedAt: record[4], worker: this.#host.worker, message: task, raw: null,
      });
    }
    if (replyTo !== undefined) {
      try {
        await now.send(replyTo, [RESULT, task.id, record[0], record[1], task.attempt]);
      } catch (error) {
        // Not sent (the connection is down): not acknowledged either, so the submitter hears it
        // from the next delivery. A body the broker cannot carry would not go later either.
        if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
        this.#host.log(`the outcome of task ${task.id} cannot reach its submitter${this.#host.store ? ' (it is stored)' : ''}: ${error.message}`);
      }
    }
    await message.ack();
  }

  /**
   * A message whose end could not be completed goes back to its queue now (nack, requeue): its
   * next delivery, here or elsewhere, finds the stored outcome and sends it, or runs the task
   * anew. Left unsettled it would stay this worker's as long as it lives (the transport renews
   * its hold). Where the nack fails too (no connection), the server delivers it again after
   * redeliverAfter. The pause keeps a persistent failure from spinning.
   */
  async #giveBack(held: Held): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, STORE_RETRY_MS));
    await Promise.resolve().then(() => held.message.nack(true)).catch(() => {});
  }

  /** Sends a stored outcome to the task's submitter (which drops it if it has it already). */
  async #replyStored(held: Held, bytes: Uint8Array): Promise<void> {
    const replyTo = held.message.replyTo;
    if (replyTo === undefined) return;
    let record: StoredResult | undefined;
    try {
      record = readStoredResult(this.#codec.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
    } catch {
      record = undefined;
    }
    if (!record) return; // not weft's record: nothing to tell
    const broker = this.#host.broker();
    if (!broker) throw new Error('no broker connection to report the outcome on');
    await broker.send(replyTo, [RESULT, held.task.id, record[0], record[1], record[2]]);
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
