/**
 * What a careful hand-written client does with many small writes: the first write of a tick
 * leaves at once (an awaited call pays no extra hop), and the writes that follow it in the same
 * tick are gathered and leave together, as one write, in the next tick. The bare baselines of
 * `weft bench rpc` write through it, so that they are the floor a user could reach by hand (weft's
 * connection does the same, src/remote/connection.ts), not a strawman paying a system call per
 * message.
 *
 *   push(a) ──▶ write([a])          (nothing written yet this tick)
 *   push(b), push(c) ──▶ gathered ──nextTick──▶ write([b, c])
 */
export class TickBatcher<T> {
  readonly #write: (items: T[]) => void;
  #gathered: T[] = [];
  #wroteThisTick = false;
  #scheduled = false;

  /** `write` sends its items as one message (concatenated: Buffer.concat, join). */
  constructor(write: (items: T[]) => void) {
    this.#write = write;
  }

  push(item: T): void {
    if (!this.#wroteThisTick) {
      this.#wroteThisTick = true;
      this.#schedule();
      this.#write([item]);
      return;
    }
    this.#gathered.push(item);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#wroteThisTick = false;
    if (this.#gathered.length === 0) return;
    const items = this.#gathered;
    this.#gathered = [];
    this.#write(items);
  };
}
