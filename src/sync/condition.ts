import { InvalidStateError } from '../core/errors.js';
import { decodeArgs, encodeArgs, type ParentChannel } from '../core/shareable.js';
import { checkNonNegativeInteger, expected } from '../core/validate.js';
import { checkWaitOptions, deadlineOf, remaining, waitWord, type WaitOptions } from './atomic-wait.js';
import { holdLock, type Held } from './held.js';
import { Lock } from './lock.js';
import { RLock, rlockOps, THIS_PROCESS_OWNER, THIS_THREAD, childOwner } from './rlock.js';
import { noSuchMethod, registerPrimitive, ServedProxy } from './share.js';

/**
 * A condition variable (threading.Condition) over a Lock or RLock and one shared sequence word.
 *
 *   wait:   seq = load(SEQ) → release the lock → waitAsync(SEQ, seq) → reacquire the lock
 *   notify: SEQ += 1 → notify(SEQ, n)
 *
 * A notify between a waiter's load and its waitAsync changes SEQ, so the wait returns at once
 * ('not-equal') instead of missing it; waiters already asleep stay asleep until notified, so
 * notify(n) wakes n of them. As everywhere, a woken waiter must re-check its predicate
 * (`waitFor` does).
 *
 * The lock defaults to a Lock, not an RLock as in Python: in async code several tasks share a
 * thread, and an RLock's per-thread ownership would let them all in.
 */
const SEQ = 0;

type AnyLock = Lock | RLock;

interface SharedCondition {
  seq: SharedArrayBuffer;
  /** The lock as core/shareable encodes it for a thread. */
  lock: unknown;
}

let attaching: { seq: Int32Array; lock: AnyLock } | undefined;

export class Condition {
  readonly #seq: Int32Array;
  readonly #lock: AnyLock;

  /** @param lock the lock waits release and notifies require. @default new Lock() */
  constructor(lock?: Lock | RLock) {
    if (attaching) {
      ({ seq: this.#seq, lock: this.#lock } = attaching);
      attaching = undefined;
      return;
    }
    if (lock !== undefined && !(lock instanceof Lock) && !(lock instanceof RLock)) {
      throw new TypeError(expected('lock', 'a Lock or an RLock', lock));
    }
    this.#seq = new Int32Array(new SharedArrayBuffer(4));
    this.#lock = lock ?? new Lock();
  }

  acquire(options?: WaitOptions): Promise<boolean> {
    return this.#lock.acquire(options);
  }

  release(): void {
    this.#lock.release();
  }

  lock(options?: WaitOptions): Promise<Held> {
    return holdLock(this, 'Condition', options);
  }

  /**
   * Releases the lock, waits for a notify, and takes the lock back before resolving: true when
   * notified, false when `timeout` ms passed. The lock must be held.
   */
  wait(options?: WaitOptions): Promise<boolean> {
    return this.#waitAs(THIS_THREAD, options);
  }

  /**
   * Waits until `predicate()` is truthy (checked first, then after each wake-up) and resolves
   * with its last value: falsy when `timeout` ms passed first. The lock must be held.
   */
  waitFor<T>(predicate: () => T | Promise<T>, options?: WaitOptions): Promise<T> {
    return waitFor(this, predicate, options);
  }

  /** Wakes up to `n` waiters. The lock must be held. @default 1 */
  notify(n = 1): void {
    this.#notifyAs(THIS_THREAD, n);
  }

  notifyAll(): void {
    this.#notifyAs(THIS_THREAD, Infinity);
  }

  #checkHeld(owner: number, what: string): void {
    const held = this.#lock instanceof RLock ? rlockOps.isOwnedBy(this.#lock, owner) : this.#lock.locked();
    if (!held) throw new InvalidStateError(`${what} on a Condition whose lock is not held`);
  }

  async #waitAs(owner: number, options: WaitOptions | undefined): Promise<boolean> {
    const { deadline, signal } = checkWaitOptions(options);
    this.#checkHeld(owner, 'wait()');
    const seq = Atomics.load(this.#seq, SEQ);
    const lock = this.#lock;
    const depth = lock instanceof RLock ? rlockOps.releaseAll(lock, owner) : (lock.release(), 1);
    let outcome: string;
    try {
      outcome = await waitWord(this.#seq, SEQ, seq, deadline, signal);
    } finally {
      // The caller gets the lock back whatever happened, unless its wait was abandoned (the
      // child it served is gone: nobody would release it again).
      if (!signal?.aborted) {
        if (lock instanceof RLock) await rlockOps.restore(lock, depth, owner);
        else await lock.acquire();
      }
    }
    return outcome !== 'timed-out';
  }

  #notifyAs(owner: number, n: number): void {
    if (n !== Infinity) checkNonNegativeInteger('n', n);
    this.#checkHeld(owner, 'notify()');
    Atomics.add(this.#seq, SEQ, 1);
    Atomics.notify(this.#seq, SEQ, n);
  }

  static {
    registerPrimitive<Condition, SharedCondition>({
      name: 'Condition',
      Class: Condition,
      toShared: (condition) => ({ seq: condition.#seq.buffer as SharedArrayBuffer, lock: encodeArgs([condition.#lock], 'thread')[0] }),
      fromShared(shared) {
        attaching = { seq: new Int32Array(shared.seq), lock: decodeArgs([shared.lock], 'thread')[0] as AnyLock };
        return new Condition();
      },
      proxy: (parent, id) => new ConditionProxy(parent, id),
      serve(condition, method, args, signal) {
        const owner = childOwner(args[0]);
        const lock = condition.#lock;
        switch (method) {
          case 'acquire': {
            const options = { ...(args[1] as WaitOptions | undefined), signal };
            return lock instanceof RLock ? rlockOps.acquireAs(lock, owner, options) : lock.acquire(options);
          }
          case 'release': return lock instanceof RLock ? rlockOps.releaseAs(lock, owner) : lock.release();
          case 'wait': return condition.#waitAs(owner, { ...(args[1] as WaitOptions | undefined), signal });
          case 'notify': return condition.#notifyAs(owner, args[1] as number);
          case 'notifyAll': return condition.#notifyAs(owner, Infinity);
          default: throw noSuchMethod('Condition', method);
        }
      },
    });
  }
}

/** Shared by Condition and its proxy: Python's wait_for loop. */
async function waitFor<T>(
  condition: { wait(options?: WaitOptions): Promise<boolean> },
  predicate: () => T | Promise<T>,
  options: WaitOptions | undefined,
): Promise<T> {
  if (typeof predicate !== 'function') throw new TypeError(expected('predicate', 'a function', predicate));
  const { timeout, signal } = checkWaitOptions(options);
  const deadline = deadlineOf(timeout);
  let result = await predicate();
  while (!result) {
    const left = remaining(deadline);
    if (left === 0) break;
    await condition.wait(left === Infinity ? { signal } : { timeout: left, signal });
    result = await predicate();
  }
  return result;
}

/** A Condition in a child process: the lock and the waiting live in the parent. */
export class ConditionProxy extends ServedProxy {
  protected readonly kind = 'Condition';

  constructor(parent: ParentChannel, id: number) {
    super(parent, id);
  }

  async acquire(options?: WaitOptions): Promise<boolean> {
    checkWaitOptions(options);
    return this.call('acquire', [THIS_PROCESS_OWNER, ServedProxy.remoteOptions('Condition', options)]) as Promise<boolean>;
  }

  release(): Promise<void> {
    return this.call('release', [THIS_PROCESS_OWNER]) as Promise<void>;
  }

  lock(options?: WaitOptions): Promise<Held> {
    return holdLock(this, 'Condition', options);
  }

  async wait(options?: WaitOptions): Promise<boolean> {
    checkWaitOptions(options);
    return this.call('wait', [THIS_PROCESS_OWNER, ServedProxy.remoteOptions('Condition', options)]) as Promise<boolean>;
  }

  waitFor<T>(predicate: () => T | Promise<T>, options?: WaitOptions): Promise<T> {
    return waitFor(this, predicate, options);
  }

  notify(n = 1): Promise<void> {
    checkNonNegativeInteger('n', n);
    return this.call('notify', [THIS_PROCESS_OWNER, n]) as Promise<void>;
  }

  notifyAll(): Promise<void> {
    return this.call('notifyAll', [THIS_PROCESS_OWNER]) as Promise<void>;
  }
}
