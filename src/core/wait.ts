import { TimeoutError } from './errors.js';
import { isFuture, type Future } from './future.js';
import { Deque } from './deque.js';
import { checkMilliseconds, expected } from './validate.js';

export const FIRST_COMPLETED = 'FIRST_COMPLETED';
export const FIRST_EXCEPTION = 'FIRST_EXCEPTION';
export const ALL_COMPLETED = 'ALL_COMPLETED';
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

export interface WaitResult<F> {
  done: Set<F>;
  notDone: Set<F>;
}

function checkFutures<F>(futures: Iterable<F>): F[] {
  if (futures == null || typeof (futures as Iterable<F>)[Symbol.iterator] !== 'function') {
    throw new TypeError(expected('futures', 'an iterable of futures', futures));
  }
  const list = [...new Set(futures)];
  for (const f of list) if (!isFuture(f)) throw new TypeError(expected('each future', 'a Future', f));
  return list;
}

/**
 * CPython's `wait`: resolves with the futures that are done and those that are not, once the
 * condition holds or the timeout passes (it never rejects on timeout). FIRST_EXCEPTION returns
 * when a future fails, or when all are done; a cancelled future is not an exception.
 */
export function wait<F extends Future<any, any>>(
  futures: Iterable<F>,
  options: { returnWhen?: ReturnWhen; timeout?: number } = {},
): Promise<WaitResult<F>> {
  const list = checkFutures(futures);
  const { returnWhen = ALL_COMPLETED, timeout } = options;
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    throw new TypeError(expected('returnWhen', 'FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED', returnWhen));
  }
  if (timeout !== undefined) checkMilliseconds('timeout', timeout);
  const split = (): WaitResult<F> => ({
    done: new Set(list.filter((f) => f.done())),
    notDone: new Set(list.filter((f) => !f.done())),
  });
  const satisfied = (): boolean => {
    const done = list.filter((f) => f.done());
    if (done.length === list.length) return true;
    if (returnWhen === FIRST_COMPLETED) return done.length > 0;
    if (returnWhen === FIRST_EXCEPTION) return done.some((f) => f.state === 'failed');
    return false;
  };
  if (satisfied() || timeout === 0) return Promise.resolve(split());
  return new Promise((resolve) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      if (settled || !satisfied()) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve(split());
    };
    for (const f of list) f.onDone(check);
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        settled = true;
        resolve(split());
      }, timeout);
    }
  });
}

/**
 * A finished future as asCompleted yields it: the same object, typed without `then`, because
 * TypeScript types the element of `for await` as the awaited value of a thenable. Read it with
 * `result()`, `exception()` or `state`.
 */
export type Completed<F> = Omit<F, 'then' | 'catch' | 'finally'>;

/**
 * CPython's `as_completed`: yields each future as it finishes (those already finished first).
 * With `timeout`, throws TimeoutError if they have not all finished in time. It yields the
 * futures themselves, not their results, so one failure does not end the iteration.
 */
export function asCompleted<F extends Future<any, any>>(futures: Iterable<F>, options: { timeout?: number } = {}): AsyncIterableIterator<Completed<F>> {
  // Not an async generator: `yield future` there would await the future (it is thenable) and
  // hand out its result instead of the future.
  const list = checkFutures(futures);
  const { timeout } = options;
  if (timeout !== undefined) checkMilliseconds('timeout', timeout);
  const deadline = timeout === undefined ? undefined : Date.now() + timeout;
  const finished = new Deque<F>();
  let wake: (() => void) | undefined;
  for (const f of list) {
    f.onDone(() => {
      finished.push(f);
      wake?.();
    });
  }
  let yielded = 0;
  const next = async (): Promise<IteratorResult<F>> => {
    if (yielded === list.length) return { done: true, value: undefined };
    while (finished.length === 0) {
      const left = deadline === undefined ? undefined : deadline - Date.now();
      if (left !== undefined && left <= 0) {
        const unfinished = list.length - yielded;
        yielded = list.length; // the iteration is over
        throw new TimeoutError(`${unfinished} (of ${list.length}) futures unfinished after ${timeout} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = left === undefined ? undefined : setTimeout(resolve, left);
        wake = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
    yielded++;
    return { done: false, value: finished.shift()! };
  };
  const iterator: AsyncIterableIterator<Completed<F>> = {
    next: next as () => Promise<IteratorResult<Completed<F>>>,
    return: async () => {
      yielded = list.length;
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

type Results<T extends readonly unknown[]> = { -readonly [K in keyof T]: Awaited<T[K]> };

/** Like Promise.all over futures: resolves with every result in order, or rejects with the first error. */
export function gather<T extends readonly Future<any, any>[] | []>(futures: T): Promise<Results<T>> {
  checkFutures(futures);
  return Promise.all(futures) as Promise<Results<T>>;
}
