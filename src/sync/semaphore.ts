import type { ParentChannel } from '../core/shareable.js';
import { checkNonNegativeInteger, checkPositiveInteger } from '../core/validate.js';
import { checkWaitOptions, remaining, waitWord, type WaitOptions } from './atomic-wait.js';
import { holdLock, type Held } from './held.js';
import { noSuchMethod, registerPrimitive, ServedProxy } from './share.js';

/**
 * A counting semaphore (threading.Semaphore) over shared memory: [value, waiters].
 * acquire takes one unit with a compareExchange, or waits while the value is 0; release adds
 * and wakes as many waiters as it added, and only when somebody is registered as waiting, so
 * an uncontended release costs one add and one load.
 */
const VALUE = 0;
const WAITERS = 1;

let attaching: Int32Array | undefined;

export class Semaphore {
  readonly #state: Int32Array;

  /** @param value the initial count. @default 1 */
  constructor(value = 1) {
    if (attaching) {
      this.#state = attaching;
      attaching = undefined;
      return;
    }
    checkNonNegativeInteger('value', value);
    if (value > 0x7fffffff) throw new RangeError(`Expected \`value\` to be at most 2147483647, got ${value} (number)`);
    this.#state = new Int32Array(new SharedArrayBuffer(8));
    this.#state[VALUE] = value;
  }

  /** Takes one unit; resolves false if `timeout` ms passed first. */
  async acquire(options?: WaitOptions): Promise<boolean> {
    const { deadline, signal } = checkWaitOptions(options);
    const state = this.#state;
    for (;;) {
      let value = Atomics.load(state, VALUE);
      while (value > 0) {
        const seen = Atomics.compareExchange(state, VALUE, value, value - 1);
        if (seen === value) return true;
        value = seen;
      }
      if (remaining(deadline) === 0) return false;
      // Registered before the wait compares the value: a release that adds after this point
      // either sees us and notifies, or makes our wait return 'not-equal'.
      Atomics.add(state, WAITERS, 1);
      try {
        await waitWord(state, VALUE, 0, deadline, signal);
      } finally {
        Atomics.sub(state, WAITERS, 1);
      }
    }
  }

  /** Gives back `n` units, waking up to `n` waiters. @default 1 */
  release(n = 1): void {
    checkPositiveInteger('n', n);
    Atomics.add(this.#state, VALUE, n);
    if (Atomics.load(this.#state, WAITERS) > 0) Atomics.notify(this.#state, VALUE, n);
  }

  /** The current count. */
  get value(): number {
    return Atomics.load(this.#state, VALUE);
  }

  lock(options?: WaitOptions): Promise<Held> {
    return holdLock(this, 'Semaphore', options);
  }

  static {
    registerPrimitive<Semaphore, SharedArrayBuffer>({
      name: 'Semaphore',
      Class: Semaphore,
      toShared: (semaphore) => semaphore.#state.buffer as SharedArrayBuffer,
      fromShared(buffer) {
        attaching = new Int32Array(buffer);
        return new Semaphore();
      },
      proxy: (parent, id) => new SemaphoreProxy(parent, id),
      serve(semaphore, method, args, signal) {
        switch (method) {
          case 'acquire': return semaphore.acquire({ ...(args[0] as WaitOptions | undefined), signal });
          case 'release': return semaphore.release(args[0] as number | undefined);
          default: throw noSuchMethod('Semaphore', method);
        }
      },
    });
  }
}

/** A Semaphore in a child process: the count lives in the parent. */
export class SemaphoreProxy extends ServedProxy {
  protected readonly kind = 'Semaphore';

  constructor(parent: ParentChannel, id: number) {
    super(parent, id);
  }

  async acquire(options?: WaitOptions): Promise<boolean> {
    checkWaitOptions(options);
    return this.call('acquire', [ServedProxy.remoteOptions('Semaphore', options)]) as Promise<boolean>;
  }

  release(n = 1): Promise<void> {
    checkPositiveInteger('n', n);
    return this.call('release', [n]) as Promise<void>;
  }

  get value(): number {
    return this.unavailable('value', 'use acquire({ timeout: 0 }) to try it');
  }

  lock(options?: WaitOptions): Promise<Held> {
    return holdLock(this, 'Semaphore', options);
  }
}
