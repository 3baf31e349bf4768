import type { Broker, Message, RefusedMessage } from '../../broker/types.js';
import { CancelledError } from '../../core/errors.js';
import { Codec } from '../../remote/codec.js';
import type { ResultStore } from '../../results/store.js';
import {
  MESSAGE_VERSION, RESULT, RETRYING, deadLetterQueue,
  type DeadLetterRecord, type StoredResult, type TaskMessage,
} from './messages.js';

/**
 * The worker's side of a task's end, in the order that makes it durable (acks late):
 *
 *   failed, attempts left ─▶ publish a copy with attempt + 1 and a later notBefore ─▶ ack
 *   otherwise ─▶ store the outcome (first settle wins; a loser is a duplicate run: dropped)
 *            ─▶ failed: a dead letter in `<queue>.dead` ─▶ reply to the submitter ─▶ ack
 *
 * Nothing is acknowledged before what replaces it is on the server: a crash anywhere in
 * between redelivers the task, and its redelivered copy finds the stored outcome.
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
      // The message stays unsettled: it is delivered again and its outcome found or made anew.
      this.#host.log(`task ${held.task.id} could not be settled: ${error.message}`);
    }));
  }

  /** True when the task's outcome is stored already (it ran elsewhere, or it was cancelled). */
  async alreadySettled(id: string): Promise<boolean> {
    if (!this.#host.store) return false;
    try {
      return (await this.#host.store.get(id)) !== undefined;
    } catch {
      return false; // cannot tell: run it; a second outcome is dropped when it is stored
    }
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
      this.duplicates++;
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
      await now.send(replyTo, [RESULT, task.id, record[0], record[1], task.attempt]).catch((error: Error) => {
        this.#host.log(`the outcome of task ${task.id} could not reach its submitter (it is stored): ${error.message}`);
      });
    }
    await message.ack();
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
