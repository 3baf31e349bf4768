import { InvalidStateError } from '../core/errors.js';
import type { ParentChannel } from '../core/shareable.js';
import { checkWaitOptions, remaining, waitWord, type WaitOptions } from './atomic-wait.js';
import { holdLock, type Held } from './held.js';
import { noSuchMethod, registerPrimitive, ServedProxy } from './share.js';

/**
 * A mutual-exclusion lock over one Int32 of shared memory, usable from any thread that has it
 * (threading.Lock / multiprocessing.Lock). It has no owner: any holder of the object may
 * release it, as in Python.
 *
 * The word follows Drepper's futex mutex ("Futexes are tricky"):
 *   0 unlocked · 1 locked, nobody waiting · 2 locked, maybe somebody waiting
 * A release that finds 2 notifies one waiter; an uncontended acquire/release touches only the
 * word (one compareExchange, one exchange) and never wakes anybody.
 */
const UNLOCKED = 0;
const LOCKED = 1;
const CONTENDED = 2;

/** Acquires the lock word at `index`; false when the deadline passed first. */
export async function acquireWord(word: Int32Array, index: number, deadline: number, signal?: AbortSignal): Promise<boolean> {
  let c = Atomics.compareExchange(word, index, UNLOCKED, LOCKED);
  if (c === UNLOCKED) return true;
  if (c !== CONTENDED) c = Atomics.exchange(word, index, CONTENDED);
  while (c !== UNLOCKED) {
    if (remaining(deadline) === 0) return false;
    await waitWord(word, index, CONTENDED, deadline, signal);
    c = Atomics.exchange(word, index, CONTENDED);
  }
  return true;
}

/** Tries once, without waiting. */
export function tryAcquireWord(word: Int32Array, index: number): boolean {
  return Atomics.compareExchange(word, index, UNLOCKED, LOCKED) === UNLOCKED;
}

/** Releases the lock word; false when it was not locked. */
export function releaseWord(word: Int32Array, index: number): boolean {
  const previous = Atomics.exchange(word, index, UNLOCKED);
  if (previous === CONTENDED) Atomics.notify(word, index, 1);
  return previous !== UNLOCKED;
}

export function isWordLocked(word: Int32Array, index: number): boolean {
  return Atomics.load(word, index) !== UNLOCKED;
}

let attaching: Int32Array | undefined;

export class Lock {
  readonly #word: Int32Array;

  constructor() {
    this.#word = attaching ?? new Int32Array(new SharedArrayBuffer(4));
    attaching = undefined;
  }

  /** Resolves true once held, false if `timeout` ms passed first. */
  async acquire(options?: WaitOptions): Promise<boolean> {
    const { deadline, signal } = checkWaitOptions(options);
    return acquireWord(this.#word, 0, deadline, signal);
  }

  /** Releases the lock; releasing an unlocked Lock is an InvalidStateError. */
  release(): void {
    if (!releaseWord(this.#word, 0)) throw new InvalidStateError('release() of an unlocked Lock');
  }

  /** Whether somebody holds it right now. */
  locked(): boolean {
    return isWordLocked(this.#word, 0);
  }

  /**
   * Acquires and returns a handle whose disposal releases: `await using held = await lock.lock()`.
   * A timeout rejects with TimeoutError.
   */
  lock(options?: WaitOptions): Promise<Held> {
    return holdLock(this, 'Lock', options);
  }

  static {
    registerPrimitive<Lock, SharedArrayBuffer>({
      name: 'Lock',
      Class: Lock,
      toShared: (lock) => lock.#word.buffer as SharedArrayBuffer,
      fromShared(buffer) {
        attaching = new Int32Array(buffer);
        return new Lock();
      },
      proxy: (parent, id) => new LockProxy(parent, id),
      serve(lock, method, args, signal) {
        switch (method) {
          case 'acquire': return lock.acquire({ ...(args[0] as WaitOptions | undefined), signal });
          case 'release': return lock.release();
          default: throw noSuchMethod('Lock', method);
        }
      },
    });
  }
}

/** A Lock in a child process: the lock itself lives in the parent. */
export class LockProxy extends ServedProxy {
  protected readonly kind = 'Lock';

  constructor(parent: ParentChannel, id: number) {
    super(parent, id);
  }

  async acquire(options?: WaitOptions): Promise<boolean> {
    checkWaitOptions(options);
    return this.call('acquire', [ServedProxy.remoteOptions('Lock', options)]) as Promise<boolean>;
  }

  release(): Promise<void> {
    return this.call('release') as Promise<void>;
  }

  locked(): boolean {
    return this.unavailable('locked()', 'use acquire({ timeout: 0 }) to try it');
  }

  lock(options?: WaitOptions): Promise<Held> {
    return holdLock(this, 'Lock', options);
  }
}
