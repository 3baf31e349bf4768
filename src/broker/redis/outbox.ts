/**
 * What a Redis transport sends on its main connection while work flows (publishes, replies,
 * broadcasts, settles), gathered per turn of the event loop and written as one explicit
 * pipeline: ioredis's auto-pipelining costs a promise and a closure more per command, and a
 * settle script per ack costs Redis several times an XACK.
 *
 *   send(XADD | PUBLISH | EVALSHA …) ─┐
 *                                     ├─(nextTick)─▶ pipeline: commands in the order sent,
 *   ack(queue, id) ───────────────────┘               then XACK + XDEL per queue ─▶ exec ─▶ each caller's promise
 *
 * Order: commands leave in the order they were sent, and the acks of a turn after all of them.
 * An ack is never written before a reply sent earlier (BrokerTransport.repliesPrecedeAcks):
 * delaying an ack is harmless, overtaking a reply is not.
 *
 * An ack needs no script: XACK then XDEL, in that order on one connection, remove the entry
 * for good whatever runs in between (a claim of an acked entry finds nothing pending). A
 * requeue (nack) goes through the settle script, which adds its copy only if its XACK removed
 * the entry.
 *
 * Per message this costs one command and one promise (a publish), or a place in an array (an
 * ack: the acks of a queue in one pipeline share one promise), and one timer per pipeline for
 * the command timeout: ioredis's timer per command was a tenth of the hot path's CPU.
 */
import type { Redis } from 'ioredis';
import { GROUP, streamKey } from './entries.js';

/** Commands per pipeline at most: a burst larger than this leaves in several writes. */
const MAX_BATCH = 1000;

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** Resolve with undefined, not the command's reply (a publish says nothing of the entry's id). */
  noValue?: boolean;
}

interface Command {
  name: string;
  args: Array<string | number | Buffer>;
  waiter: Waiter;
}

/** The acks of one queue in one pipeline: one promise for all of them, not one per ack. */
interface QueueAcks {
  ids: string[];
  done: Promise<void>;
  waiter: Waiter;
}

export class Outbox {
  readonly #connection: Redis;
  #commands: Command[] = [];
  #acks = new Map<string, QueueAcks>();
  #size = 0;
  #scheduled = false;

  constructor(connection: Redis) {
    this.#connection = connection;
  }

  /** Resolves with the command's reply, once the pipeline it left in has been answered. */
  send(command: string, ...args: Array<string | number | Buffer>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#commands.push({ name: command, args, waiter: { resolve, reject } });
      this.#added();
    });
  }

  /** send() with its arguments in an array the caller gives up (no copy), resolving with nothing. */
  sendVoid(command: string, args: Array<string | number | Buffer>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#commands.push({ name: command, args, waiter: { resolve: resolve as (value: unknown) => void, reject, noValue: true } });
      this.#added();
    });
  }

  /** Resolves once the server has removed the entry (with the others of its queue in this turn). */
  ack(queue: string, id: string): Promise<void> {
    let acks = this.#acks.get(queue);
    if (!acks) {
      let waiter!: Waiter;
      const done = new Promise<void>((resolve, reject) => { waiter = { resolve: () => resolve(), reject }; });
      this.#acks.set(queue, acks = { ids: [], done, waiter });
    }
    acks.ids.push(id);
    this.#added();
    return acks.done;
  }

  /** Writes everything gathered now (before the connection closes). */
  flush(): void {
    this.#scheduled = false;
    if (this.#size === 0) return;
    const commands = this.#commands;
    const acks = this.#acks;
    this.#commands = [];
    this.#acks = new Map();
    this.#size = 0;
    const pipeline = this.#connection.pipeline();
    const waiters: Array<Waiter | Waiter[]> = [];
    for (const { name, args, waiter } of commands) {
      pipeline.call(name, ...args);
      waiters.push(waiter);
    }
    for (const [queue, { ids, waiter: ackWaiter }] of acks) {
      const key = streamKey(queue);
      pipeline.call('XACK', key, GROUP, ...ids);
      pipeline.call('XDEL', key, ...ids);
      // The XACK's outcome is the acks' outcome; the XDEL only tidies the stream.
      waiters.push(ackWaiter, []);
    }
    // One command timeout for the whole pipeline, not a timer per command: ioredis arms one per
    // command it sends while `commandTimeout` is set, and exec() sends them all synchronously.
    const options = this.#connection.options;
    const timeoutMs = options.commandTimeout;
    let timer: NodeJS.Timeout | undefined;
    options.commandTimeout = undefined;
    let written: Promise<Array<[Error | null, unknown]> | null>;
    try {
      written = pipeline.exec();
    } finally {
      options.commandTimeout = timeoutMs;
    }
    if (timeoutMs !== undefined) {
      // As ioredis's own timeout: the callers hear of it; the commands stay sent.
      timer = setTimeout(() => {
        for (const waiter of waiters) settle(waiter, new Error('Command timed out'), undefined);
      }, timeoutMs);
    }
    written.then(
      (results) => {
        clearTimeout(timer);
        for (let index = 0; index < waiters.length; index++) {
          const [error, value] = results?.[index] ?? [new Error('redis answered no reply for the command'), undefined];
          settle(waiters[index]!, error, value);
        }
      },
      (error: Error) => {
        clearTimeout(timer);
        for (const waiter of waiters) settle(waiter, error, undefined);
      },
    );
  }

  #added(): void {
    if (++this.#size >= MAX_BATCH) {
      this.flush();
    } else if (!this.#scheduled) {
      // After the promise jobs of this turn (a burst of handlers settling together), before any I/O.
      this.#scheduled = true;
      process.nextTick(() => this.flush());
    }
  }
}

function settle(waiter: Waiter | Waiter[], error: Error | null, value: unknown): void {
  for (const one of Array.isArray(waiter) ? waiter : [waiter]) {
    if (error) one.reject(error);
    else one.resolve(one.noValue ? undefined : value);
  }
}
