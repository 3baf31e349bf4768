import { threadId } from 'node:worker_threads';
import { InvalidStateError } from '../core/errors.js';
import type { ParentChannel } from '../core/shareable.js';
import { checkWaitOptions, type WaitOptions } from './atomic-wait.js';
import { holdLock, type Held } from './held.js';
import { acquireWord, releaseWord } from './lock.js';
import { noSuchMethod, registerPrimitive, ServedProxy } from './share.js';

/**
 * A reentrant lock (threading.RLock): the thread that holds it may acquire it again and must
 * release it as many times. The owner is the thread (or, through a proxy, the child process),
 * as in Python: async code running concurrently in one thread shares the ownership, so use a
 * Lock to keep such code apart.
 *
 * Shared memory: [lock word (see lock.ts), owner, depth]. Only the holder writes owner and
 * depth, so a thread that reads its own id in `owner` knows it holds the lock.
 */
const WORD = 0;
const OWNER = 1;
const DEPTH = 2;

/** This thread's owner id: positive for threads of this process, -pid for a child process. */
export const THIS_THREAD = threadId + 1;

let attaching: Int32Array | undefined;

/**
 * What a Condition needs of an RLock: let go of every level while it waits, then take them all
 * back. Owner ids: THIS_THREAD here, a child's -pid when served.
 */
export interface RLockOps {
  releaseAll(lock: RLock, owner: number): number;
  restore(lock: RLock, depth: number, owner: number, signal?: AbortSignal): Promise<void>;
  isOwnedBy(lock: RLock, owner: number): boolean;
  acquireAs(lock: RLock, owner: number, options: WaitOptions | undefined): Promise<boolean>;
  releaseAs(lock: RLock, owner: number): void;
}
export let rlockOps: RLockOps;

export class RLock {
  readonly #state: Int32Array;

  constructor() {
    this.#state = attaching ?? new Int32Array(new SharedArrayBuffer(12));
    attaching = undefined;
  }

  /** Resolves true once held (at once if this thread holds it already), false on timeout. */
  acquire(options?: WaitOptions): Promise<boolean> {
    return this.#acquireAs(THIS_THREAD, options);
  }

  /** Releases one level; the lock is free once every acquire has been released. */
  release(): void {
    this.#releaseAs(THIS_THREAD);
  }

  /** Whether this thread holds it. */
  isOwned(): boolean {
    return Atomics.load(this.#state, OWNER) === THIS_THREAD;
  }

  locked(): boolean {
    return Atomics.load(this.#state, WORD) !== 0;
  }

  lock(options?: WaitOptions): Promise<Held> {
    return holdLock(this, 'RLock', options);
  }

  async #acquireAs(owner: number, options: WaitOptions | undefined): Promise<boolean> {
    const { deadline, signal } = checkWaitOptions(options);
    const state = this.#state;
    if (Atomics.load(state, OWNER) === owner) {
      Atomics.add(state, DEPTH, 1);
      return true;
    }
    if (!(await acquireWord(state, WORD, deadline, signal))) return false;
    Atomics.store(state, OWNER, owner);
    Atomics.store(state, DEPTH, 1);
    return true;
  }

  #releaseAs(owner: number): void {
    const state = this.#state;
    if (Atomics.load(state, OWNER) !== owner) throw new InvalidStateError('release() of an RLock this thread does not hold');
    if (Atomics.sub(state, DEPTH, 1) > 1) return;
    Atomics.store(state, OWNER, 0);
    releaseWord(state, WORD);
  }

  static {
    rlockOps = {
      releaseAll(lock, owner) {
        if (Atomics.load(lock.#state, OWNER) !== owner) throw new InvalidStateError('wait() on a Condition whose RLock this thread does not hold');
        const depth = Atomics.exchange(lock.#state, DEPTH, 1);
        lock.#releaseAs(owner);
        return depth;
      },
      async restore(lock, depth, owner, signal) {
        await lock.#acquireAs(owner, { signal });
        Atomics.store(lock.#state, DEPTH, depth);
      },
      isOwnedBy: (lock, owner) => Atomics.load(lock.#state, OWNER) === owner,
      acquireAs: (lock, owner, options) => lock.#acquireAs(owner, options),
      releaseAs: (lock, owner) => lock.#releaseAs(owner),
    };
    registerPrimitive<RLock, SharedArrayBuffer>({
      name: 'RLock',
      Class: RLock,
      toShared: (lock) => lock.#state.buffer as SharedArrayBuffer,
      fromShared(buffer) {
        attaching = new Int32Array(buffer);
        return new RLock();
      },
      proxy: (parent, id) => new RLockProxy(parent, id),
      serve(lock, method, args, signal) {
        const owner = childOwner(args[0]);
        switch (method) {
          case 'acquire': return lock.#acquireAs(owner, { ...(args[1] as WaitOptions | undefined), signal });
          case 'release': return lock.#releaseAs(owner);
          default: throw noSuchMethod('RLock', method);
        }
      },
    });
  }
}

/** The owner id a child process acquires with: minus its pid, never a thread's id. */
export const THIS_PROCESS_OWNER = -process.pid;

export function childOwner(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value >= 0) {
    throw new TypeError(`Expected a child process owner id (a negative integer), got ${String(value)}`);
  }
  return value;
}

/** An RLock in a child process, owned by that process while it holds it. */
export class RLockProxy extends ServedProxy {
  protected readonly kind = 'RLock';

  constructor(parent: ParentChannel, id: number) {
    super(parent, id);
  }

  async acquire(options?: WaitOptions): Promise<boolean> {
    checkWaitOptions(options);
    return this.call('acquire', [THIS_PROCESS_OWNER, ServedProxy.remoteOptions('RLock', options)]) as Promise<boolean>;
  }

  release(): Promise<void> {
    return this.call('release', [THIS_PROCESS_OWNER]) as Promise<void>;
  }

  isOwned(): boolean {
    return this.unavailable('isOwned()', 'track ownership in the task');
  }

  locked(): boolean {
    return this.unavailable('locked()', 'use acquire({ timeout: 0 }) to try it');
  }

  lock(options?: WaitOptions): Promise<Held> {
    return holdLock(this, 'RLock', options);
  }
}
