/** What the conformance suite's files share: a collector a test can wait on, and the suite's context. */
import type { Broker } from '../../src/broker/types.js';

/** Collects values (messages, bodies) and lets a test wait for a count. */
export class Collector<T = unknown> {
  readonly items: T[] = [];
  #waiters: { count: number; wake(): void }[] = [];

  push = (item: T): void => {
    this.items.push(item);
    for (const waiter of [...this.#waiters]) {
      if (this.items.length >= waiter.count) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.wake();
      }
    }
  };

  async waitFor(count: number, timeoutMs = 5000, what = 'items'): Promise<T[]> {
    if (this.items.length < count) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((wake) => this.#waiters.push({ count, wake })),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out with ${this.items.length} of ${count} ${what}`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    }
    return this.items.slice(0, count);
  }
}

/** What a part of the suite gets from brokerConformance(). */
export interface ConformanceContext {
  kind: string;
  url: string;
  /** A new client, closed after the suite. */
  connect(): Promise<Broker>;
  /** A fresh queue name, removed from the server after the suite. */
  queueName(what: string): string;
  /** A fresh topic name. */
  topicName(what: string): string;
}

/** Resolves when `condition()` holds, checked on each turn of the event loop; rejects saying `what` after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
