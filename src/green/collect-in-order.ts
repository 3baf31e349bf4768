import { futureInternals, type Future } from '../core/future.js';

/**
 * map's results, for futures already submitted: resolves with their values in order, or
 * rejects with the error of the first one (in order) that failed or was cancelled, once those
 * before it are done, and cancels the rest — what the executor's generic map does, without an
 * async generator step and a promise per item (about a microsecond a task, which a GreenPool
 * of IO tasks otherwise pays where a bare p-limit does not).
 *
 *   futures[0..n) ──onDone of the first unfinished──▶ advance ──all done──▶ resolve(values)
 *                                                       └──first failure──▶ cancel rest, reject
 */
export function collectInOrder<R>(futures: readonly Future<R, unknown>[]): Promise<R[]> {
  return new Promise<R[]>((resolve, reject) => {
    const results = new Array<R>(futures.length);
    let next = 0;
    const advance = (): void => {
      while (next < futures.length) {
        const future = futures[next]!;
        if (!future.done()) {
          // Only the first unfinished future is watched: the ones after it are read when it is done.
          future.onDone(advance);
          return;
        }
        if (future.state !== 'done') {
          const error = futureInternals.outcome(future);
          for (let i = next + 1; i < futures.length; i++) futures[i]!.cancel();
          next = futures.length;
          reject(error);
          return;
        }
        results[next++] = futureInternals.outcome(future) as R;
      }
      resolve(results);
    };
    advance();
  });
}
