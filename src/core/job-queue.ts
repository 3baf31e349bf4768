import { Deque } from './deque.js';

/**
 * Queued work ordered by priority (higher first), FIFO within a priority. Almost every task has
 * priority 0, so buckets keep the common case a plain deque with no heap operations.
 */
export class PriorityQueue<T> {
  #buckets = new Map<number, Deque<T>>();
  #priorities: number[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T, priority = 0): void {
    this.#bucket(priority).push(item);
    this.#size++;
  }

  /** Queues `item` ahead of everything of its priority. */
  pushFront(item: T, priority = 0): void {
    this.#bucket(priority).unshift(item);
    this.#size++;
  }

  #bucket(priority: number): Deque<T> {
    let bucket = this.#buckets.get(priority);
    if (!bucket) {
      bucket = new Deque<T>();
      this.#buckets.set(priority, bucket);
      this.#priorities.push(priority);
      this.#priorities.sort((a, b) => b - a);
    }
    return bucket;
  }

  shift(): T | undefined {
    for (const priority of this.#priorities) {
      const bucket = this.#buckets.get(priority)!;
      if (bucket.length > 0) {
        this.#size--;
        return bucket.shift();
      }
    }
    return undefined;
  }

  /** The item shift() would return, left in place. */
  peek(): T | undefined {
    for (const priority of this.#priorities) {
      const item = this.#buckets.get(priority)!.peek();
      if (item !== undefined) return item;
    }
    return undefined;
  }

  *drain(): Generator<T> {
    for (;;) {
      const item = this.shift();
      if (item === undefined) return;
      yield item;
    }
  }
}
