import { openBroker } from '../../broker/open.js';
import { defaultResultBackend, openResultStore } from '../../results/open.js';
import { DEFAULT_RESULT_TTL_MS } from '../../results/store.js';
import type { Broker, Message } from '../../broker/types.js';
import { deadLetterQueue, isDeadLetterRecord, type DeadLetterRecord } from './messages.js';

/**
 * The dead letters a queue keeps on the server (`<queue>.dead`): tasks that failed their last
 * attempt, and bodies that were not task messages. They are ordinary messages, so reading them
 * is consuming them on a connection of its own and closing it unsettled: they go back to the
 * queue (their order may change). `retry` publishes a task again from attempt 1 and removes its
 * letter; `purge` removes them all.
 *
 *   list   ─▶ consume <queue>.dead (prefetch = limit) ─▶ collect ─▶ close: all go back
 *   retry  ─▶ ... the one with the id: publish its task to its queue, then ack it ─▶ close
 *   purge  ─▶ ... ack each ─▶ close
 */
/** A dead letter as `list` returns it: the stored record without its wire fields. */
export type ServerDeadLetter = Pick<DeadLetterRecord, 'id' | 'task' | 'queue' | 'args' | 'attempts' | 'error' | 'worker'> & { failedAt: Date };

/** How long a read waits for the next letter once the server's count is not reached yet. */
const QUIET_MS = 500;

export interface DeadLetterOptions {
  /** Most letters read. @default 1000 */
  limit?: number;
}

export interface RetryOptions {
  /** Where outcomes are stored (its record of the task is removed, so the new run's can be stored). @default the broker's own server where it keeps results */
  resultBackend?: string | false;
}

export async function listDeadLetters(url: string, queue: string, options: DeadLetterOptions = {}): Promise<ServerDeadLetter[]> {
  return withLetters(url, queue, options.limit ?? 1000, async (letters) => letters.map(({ record }) => describe(record)));
}

/**
 * Publishes the task of the letter `id` again (attempt 1) and removes the letter; false if there
 * is none. Its stored outcome is forgotten first: the first settle wins, and the new run's
 * outcome must be the one kept.
 */
export async function retryDeadLetter(url: string, queue: string, id: string, options: RetryOptions = {}): Promise<boolean> {
  return withLetters(url, queue, 100_000, async (letters, broker) => {
    const letter = letters.find(({ record }) => record.id === id);
    if (!letter) return false;
    const task = letter.record.message;
    if (!task) throw new TypeError(`dead letter ${id} holds no task message to run again`);
    const backend = options.resultBackend === false ? undefined : options.resultBackend ?? defaultResultBackend(new URL(url))?.href;
    if (backend !== undefined) {
      const store = await openResultStore(backend, { ttl: DEFAULT_RESULT_TTL_MS });
      try {
        await store.forget(id);
      } finally {
        await store.close();
      }
    }
    await broker.publish(letter.record.queue, { ...task, attempt: 1, notBefore: 0 });
    await letter.message.ack();
    return true;
  }, id);
}

/** Removes every dead letter of `queue`; resolves with how many. */
export async function purgeDeadLetters(url: string, queue: string): Promise<number> {
  return withLetters(url, queue, 100_000, async (letters) => {
    await Promise.all(letters.map(({ message }) => message.ack()));
    return letters.length;
  });
}

interface Letter {
  message: Message<unknown>;
  record: DeadLetterRecord;
}

/** Consumes up to `limit` letters (or until `stopAt`'s letter came), hands them to `use`, then closes. */
async function withLetters<T>(url: string, queue: string, limit: number, use: (letters: Letter[], broker: Broker) => Promise<T>, stopAt?: string): Promise<T> {
  const broker = await openBroker(url);
  try {
    const dead = deadLetterQueue(queue);
    const expected = Math.min(limit, (await broker.queueStats(dead)).waiting);
    const letters: Letter[] = [];
    if (expected > 0) {
      await new Promise<void>((resolve) => {
        let quiet: ReturnType<typeof setTimeout> = setTimeout(resolve, QUIET_MS * 4);
        void broker.consume<unknown>(dead, (message) => {
          if (letters.length >= expected) return; // stays unsettled: back to the queue on close
          if (isDeadLetterRecord(message.body)) letters.push({ message, record: message.body });
          else letters.push({ message, record: foreign(queue, message.body) });
          clearTimeout(quiet);
          if (letters.length >= expected || (stopAt !== undefined && letters.at(-1)!.record.id === stopAt)) return resolve();
          quiet = setTimeout(resolve, QUIET_MS);
        }, { autoAck: false, prefetch: Math.max(1, Math.min(expected, 1000)), onRefused: () => {} }).catch(() => resolve());
      });
    }
    return await use(letters, broker);
  } finally {
    await broker.close();
  }
}

function describe(record: DeadLetterRecord): ServerDeadLetter {
  return {
    id: record.id, task: record.task, queue: record.queue, args: record.args, attempts: record.attempts,
    error: record.error, failedAt: new Date(record.failedAt), worker: record.worker,
  };
}

/** Something in the dead-letter queue that weft did not write there. */
function foreign(queue: string, body: unknown): DeadLetterRecord {
  return {
    v: 1, id: null, task: null, queue, args: null, attempts: 0, error: new TypeError(`not a weft dead letter: ${JSON.stringify(body)?.slice(0, 200)}`),
    failedAt: 0, worker: '', message: null, raw: null,
  };
}
