import { TimeoutError } from '../core/errors.js';
import type { ParentChannel } from '../core/shareable.js';
import { checkPositiveInteger } from '../core/validate.js';
import { checkWaitOptions, waitWord, type WaitOptions } from './atomic-wait.js';
import { BrokenBarrierError } from './errors.js';
import { acquireWord, releaseWord, tryAcquireWord } from './lock.js';
import { noSuchMethod, registerPrimitive, ServedProxy } from './share.js';

/**
 * A cyclic barrier (threading.Barrier): `parties` waiters meet, then all go on together, and
 * the barrier is ready for the next round.
 *
 * Shared memory: [lock word, count, generation, broken, brokenGeneration]. Arrivals update
 * count under the lock word (a few instructions, never across an await). The last arrival
 * starts the next generation and wakes everybody waiting on the generation word. abort() and
 * reset() also end the generation, but first record it in brokenGeneration (as generation + 1,
 * so that 0 means "none"): a waiter that wakes to a new generation knows from that word
 * whether its round completed or broke, however late it runs.
 *
 * A party that gives up (timeout, or its signal) breaks the barrier, as in Python: the others
 * could never complete the round without it.
 */
const LOCK = 0;
const COUNT = 1;
const GENERATION = 2;
const BROKEN = 3;
const BROKEN_GENERATION = 4;

interface SharedBarrier {
  buffer: SharedArrayBuffer;
  parties: number;
}

let attaching: SharedBarrier | undefined;

export class Barrier {
  readonly #state: Int32Array;
  readonly #parties: number;

  constructor(parties: number) {
    if (attaching) {
      this.#state = new Int32Array(attaching.buffer);
      this.#parties = attaching.parties;
      attaching = undefined;
      return;
    }
    this.#parties = checkPositiveInteger('parties', parties);
    this.#state = new Int32Array(new SharedArrayBuffer(20));
  }

  get parties(): number {
    return this.#parties;
  }

  /** How many parties are waiting in the current round. */
  get nWaiting(): number {
    return Atomics.load(this.#state, COUNT);
  }

  get broken(): boolean {
    return Atomics.load(this.#state, BROKEN) === 1;
  }

  /**
   * Waits for all parties; resolves with this party's arrival index (0 … parties − 1; the last
   * to arrive gets parties − 1). Rejects with BrokenBarrierError when the barrier is or gets
   * broken; with TimeoutError (breaking it for the others) when `timeout` ms pass first.
   */
  async wait(options?: WaitOptions): Promise<number> {
    const { timeout, deadline, signal } = checkWaitOptions(options);
    const state = this.#state;
    // Arriving is counted in the call itself when the word is free (nWaiting moves at once).
    if (!tryAcquireWord(state, LOCK)) await acquireWord(state, LOCK, Infinity);
    if (Atomics.load(state, BROKEN) === 1) {
      releaseWord(state, LOCK);
      throw new BrokenBarrierError();
    }
    const generation = Atomics.load(state, GENERATION);
    const index = Atomics.add(state, COUNT, 1);
    if (index === this.#parties - 1) {
      Atomics.store(state, COUNT, 0);
      Atomics.add(state, GENERATION, 1);
      releaseWord(state, LOCK);
      Atomics.notify(state, GENERATION);
      return index;
    }
    releaseWord(state, LOCK);
    try {
      while (Atomics.load(state, GENERATION) === generation) {
        if (await waitWord(state, GENERATION, generation, deadline, signal) === 'timed-out') break;
      }
    } catch (error) {
      await this.#giveUp(generation);
      throw error;
    }
    if (Atomics.load(state, GENERATION) === generation && await this.#giveUp(generation)) {
      throw new TimeoutError(`Barrier.wait() timed out after ${timeout} ms with ${Atomics.load(state, COUNT)} of ${this.#parties} parties; the barrier is now broken`);
    }
    if (Atomics.load(state, BROKEN_GENERATION) === generation + 1) throw new BrokenBarrierError();
    return index;
  }

  /** Breaks the barrier: current and later waiters reject with BrokenBarrierError until reset(). */
  async abort(): Promise<void> {
    await this.#endRound(true);
  }

  /** Back to the initial state; parties waiting now reject with BrokenBarrierError. */
  async reset(): Promise<void> {
    await this.#endRound(false);
  }

  /** Breaks the round `generation` if it is still the current one; true if it did. */
  async #giveUp(generation: number): Promise<boolean> {
    const state = this.#state;
    await acquireWord(state, LOCK, Infinity);
    const current = Atomics.load(state, GENERATION) === generation;
    releaseWord(state, LOCK);
    if (current) await this.#endRound(true, generation);
    return current;
  }

  async #endRound(broken: boolean, onlyGeneration?: number): Promise<void> {
    const state = this.#state;
    await acquireWord(state, LOCK, Infinity);
    const generation = Atomics.load(state, GENERATION);
    if (onlyGeneration === undefined || onlyGeneration === generation) {
      if (Atomics.load(state, COUNT) > 0) {
        Atomics.store(state, BROKEN_GENERATION, generation + 1);
        Atomics.add(state, GENERATION, 1);
      }
      Atomics.store(state, COUNT, 0);
      Atomics.store(state, BROKEN, broken ? 1 : 0);
    }
    releaseWord(state, LOCK);
    Atomics.notify(state, GENERATION);
  }

  static {
    registerPrimitive<Barrier, SharedBarrier>({
      name: 'Barrier',
      Class: Barrier,
      toShared: (barrier) => ({ buffer: barrier.#state.buffer as SharedArrayBuffer, parties: barrier.#parties }),
      fromShared(shared) {
        attaching = shared;
        return new Barrier(shared.parties);
      },
      proxy: (parent, id) => new BarrierProxy(parent, id),
      serve(barrier, method, args, signal) {
        switch (method) {
          case 'wait': return barrier.wait({ ...(args[0] as WaitOptions | undefined), signal });
          case 'abort': return barrier.abort();
          case 'reset': return barrier.reset();
          default: throw noSuchMethod('Barrier', method);
        }
      },
    });
  }
}

/** A Barrier in a child process: the barrier lives in the parent. */
export class BarrierProxy extends ServedProxy {
  protected readonly kind = 'Barrier';

  constructor(parent: ParentChannel, id: number) {
    super(parent, id);
  }

  async wait(options?: WaitOptions): Promise<number> {
    checkWaitOptions(options);
    return this.call('wait', [ServedProxy.remoteOptions('Barrier', options)]) as Promise<number>;
  }

  abort(): Promise<void> {
    return this.call('abort') as Promise<void>;
  }

  reset(): Promise<void> {
    return this.call('reset') as Promise<void>;
  }

  get parties(): number {
    return this.unavailable('parties', 'pass the number of parties to the task');
  }

  get nWaiting(): number {
    return this.unavailable('nWaiting', 'there is no asynchronous form');
  }

  get broken(): boolean {
    return this.unavailable('broken', 'wait() rejects with BrokenBarrierError when it is');
  }
}
