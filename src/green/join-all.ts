import type { Future } from '../core/future.js';
import { checkMilliseconds } from '../core/validate.js';

/**
 * gevent's `joinall`: waits until every future is done or `timeout` ms pass, whichever comes
 * first, and resolves with the futures that finished, in the order given. It never rejects and
 * never cancels: the others keep running.
 */
export function joinAll<F extends Future<any, any>>(futures: Iterable<F>, options: { timeout?: number } = {}): Promise<F[]> {
  const list = [...futures];
  const { timeout } = options;
  if (timeout !== undefined) checkMilliseconds('timeout', timeout);
  const finished = () => list.filter((f) => f.done());
  let remaining = 0; // counted, not filtered: a million futures should not cost another array
  for (const future of list) if (!future.done()) remaining++;
  if (remaining === 0 || timeout === 0) return Promise.resolve(finished());
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve(finished());
    };
    const countDown = () => {
      if (--remaining === 0) finish();
    };
    for (const future of list) if (!future.done()) future.onDone(countDown);
    if (timeout !== undefined) timer = setTimeout(finish, timeout);
  });
}
