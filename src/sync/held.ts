import { timeoutError } from './atomic-wait.js';

/**
 * What `await lock.lock()` gives: the lock held until `release()` or the end of the `using`
 * block. Releasing twice is harmless, so an early `release()` inside a `using` block is fine.
 */
export interface Held {
  release(): void;
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface Acquirable {
  acquire(options?: { timeout?: number; signal?: AbortSignal }): Promise<boolean>;
  release(): void | Promise<void>;
}

/** Acquires `target` and wraps the release; a timeout rejects with TimeoutError. */
export async function holdLock(target: Acquirable, what: string, options?: { timeout?: number; signal?: AbortSignal }): Promise<Held> {
  if (!(await target.acquire(options))) throw timeoutError(`${what}.lock()`, options?.timeout);
  let released = false;
  let outcome: void | Promise<void>;
  const release = (): void | Promise<void> => {
    if (!released) {
      released = true;
      outcome = target.release();
    }
    return outcome;
  };
  return {
    release: release as () => void,
    [Symbol.dispose]: release as () => void,
    async [Symbol.asyncDispose]() {
      await release();
    },
  };
}
