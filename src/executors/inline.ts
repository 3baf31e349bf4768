import { ExecutorBase } from '../core/executor.js';
import type { Job } from '../core/job.js';

/**
 * Runs tasks one after another in the calling thread, in submission (and priority) order. An
 * async task is awaited before the next starts. Useful as the baseline of every benchmark and
 * for debugging a program that will later run on a pool: change the executor, not the code.
 * A synchronous task blocks the event loop while it runs, so cancelling it takes effect only
 * once it returns; an async task sees `taskContext().signal` abort at once.
 */
export class InlineExecutor extends ExecutorBase {
  protected readonly kind = 'InlineExecutor';

  protected get capacity(): number {
    return 1;
  }

  protected dispatch(job: Job): void {
    this.runHere(job);
  }
}
