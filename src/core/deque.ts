/** A FIFO with O(1) push and shift; arrays shift in O(n), which hurts at a million entries. */
export class Deque<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Puts `item` back at the front (a requeued job keeps its place). */
  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Compact once the dead prefix is both large and the larger half, keeping shift amortised O(1).
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Position of `item` from the front, or -1 (a linear scan: for rare paths such as cancel). */
  indexOf(item: T): number {
    const at = this.#items.indexOf(item, this.#head);
    return at < 0 ? -1 : at - this.#head;
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  *drain(): Generator<T> {
    while (this.length > 0) yield this.shift() as T;
  }
}
