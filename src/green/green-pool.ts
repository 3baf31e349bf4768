import { ExecutorBase } from '../core/executor.js';
import type { Future } from '../core/future.js';
import type { Job } from '../core/job.js';
import type { MapOptions } from '../core/map.js';
import { checkTask, type AnyTask, type TaskArgs, type TaskResult, type TaskYield } from '../core/task.js';
import { checkKnownOptions, checkPositiveInteger, expected } from '../core/validate.js';
import { collectInOrder } from './collect-in-order.js';

export interface GreenPoolOptions {
  /**
   * Most tasks running at once; the rest wait in order. Infinity lets every task run.
   * @default 1000 (eventlet's GreenPool default)
   */
  size?: number;
  /**
   * Whether `taskContext()` works everywhere in a task (true), or only in its synchronous part,
   * before the first `await` (false). AsyncLocalStorage costs a context frame (184 bytes) per
   * pending task on Node 24, and on Node 20 async hooks on every promise in the process (about 400
   * bytes per pending task awaiting a timer); turn it off for huge numbers of tiny tasks that
   * read their context up front.
   * @default true
   */
  asyncContext?: boolean;
}

/**
 * Green threads: async functions and tasks on this thread's event loop, at most `size` at a
 * time (eventlet's GreenPool, gevent's Pool). Cheap enough for a million pending tasks; the
 * right executor for IO-bound work. CPU-bound work gains nothing here: use a ThreadPool.
 */
export class GreenPool extends ExecutorBase {
  protected readonly kind = 'GreenPool';
  readonly size: number;
  readonly asyncContext: boolean;

  constructor(options: GreenPoolOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
    checkKnownOptions('GreenPool', options, { size: true, asyncContext: true });
    this.size = checkPositiveInteger('size', options.size ?? 1000, true);
    const { asyncContext = true } = options;
    if (typeof asyncContext !== 'boolean') throw new TypeError(expected('asyncContext', 'a boolean', asyncContext));
    this.asyncContext = asyncContext;
  }

  /** gevent's `spawn`: runs `fn(...args)` as a green thread; same as `submit`. */
  spawn<T extends AnyTask>(fn: T, ...args: TaskArgs<T>): Future<TaskResult<T>, TaskYield<T>> {
    return this.submit(fn, ...args);
  }

  /**
   * The common case, an array and no options, takes a shorter path than the generic map (see
   * collectInOrder): every item is submitted at once and the results gathered in order.
   */
  override map<T extends AnyTask>(task: T, items: Iterable<TaskArgs<T>[0]> | AsyncIterable<TaskArgs<T>[0]>, options?: MapOptions): Promise<TaskResult<T>[]> {
    if (options !== undefined || !Array.isArray(items)) return super.map(task, items, options);
    checkTask(task); // a bad task throws here, as the generic map does
    const futures: Future<TaskResult<T>, TaskYield<T>>[] = [];
    try {
      for (const item of items) futures.push(this.submit(task, ...([item] as TaskArgs<T>)));
    } catch (error) {
      // Shut down: the generic map rejects (and cancels what it had submitted) rather than throws.
      for (const future of futures) future.cancel();
      return Promise.reject(error);
    }
    return collectInOrder(futures);
  }

  /** How many tasks are running now. */
  get running(): number {
    return this.stats.running;
  }

  protected get capacity(): number {
    return this.size;
  }

  protected dispatch(job: Job): void {
    this.runHere(job, this.asyncContext);
  }
}
