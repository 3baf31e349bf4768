import { InvalidStateError, WorkerCrashedError } from '../core/errors.js';
import { futureInternals, type Future } from '../core/future.js';
import { checkTask, type AnyTask, type TaskArgs, type TaskResult, type TaskYield } from '../core/task.js';
import { checkMilliseconds } from '../core/validate.js';
import { constants } from 'node:os';
import type { PoolBase } from './pool-base.js';
import { ProcessPool } from './process-pool.js';
import { ThreadPool } from './thread-pool.js';

/**
 * `threading.Thread` / `multiprocessing.Process`: one task on a dedicated worker thread or
 * child process, started explicitly and joined. Built on a one-worker pool, so tasks, plain
 * functions, taskContext, shareable arguments and crash reporting work as in the pools.
 */
abstract class Runner<T extends AnyTask> {
  #task: T;
  #args: TaskArgs<T>;
  #future: Future<TaskResult<T>, TaskYield<T>> | undefined;
  protected pool: PoolBase | undefined;
  protected killedWith: NodeJS.Signals | undefined;

  constructor(task: T, ...args: TaskArgs<T>) {
    checkTask(task);
    this.#task = task;
    this.#args = args;
  }

  protected abstract createPool(): PoolBase;

  /** Starts the task on its own worker. Once only. */
  start(): this {
    if (this.pool) throw new InvalidStateError(`${this.constructor.name} was already started; create a new one to run again`);
    const pool = (this.pool = this.createPool());
    void pool.start().catch(() => {});
    this.#future = pool.submit(this.#task, ...this.#args);
    this.#future.onDone(() => void pool.shutdown());
    return this;
  }

  /** Resolves once the task has finished, or after `timeout` ms if given; never rejects. */
  async join(timeout?: number): Promise<void> {
    if (timeout !== undefined) checkMilliseconds('timeout', timeout);
    const future = this.#future;
    if (!future) throw new InvalidStateError(`cannot join a ${this.constructor.name} that was never started`);
    await future.result(timeout).catch(() => {});
  }

  isAlive(): boolean {
    return this.#future !== undefined && !this.#future.done();
  }

  /** null until it ends; 0 on success; 1 if the task threw; a crashed worker's exit code, or -signal number. */
  get exitCode(): number | null {
    const future = this.#future;
    if (!future || !future.done()) return null;
    if (future.state === 'done') return 0;
    if (this.killedWith) return -(constants.signals[this.killedWith] ?? 1);
    const error = futureInternals.outcome(future);
    if (error instanceof WorkerCrashedError) {
      if (error.signal) return -(constants.signals[error.signal as NodeJS.Signals] ?? 1);
      return error.exitCode ?? 1;
    }
    return 1;
  }

  /** The task's outcome: await it for the result, or iterate it for a generator's values. */
  get future(): Future<TaskResult<T>, TaskYield<T>> {
    if (!this.#future) throw new InvalidStateError(`${this.constructor.name} has not been started`);
    return this.#future;
  }
}

/** A task on a dedicated worker thread: `new Thread(tasks.work, 1, 2).start()`, then `await thread.join()`. */
export class Thread<T extends AnyTask> extends Runner<T> {
  protected createPool(): PoolBase {
    return new ThreadPool({ workers: 1 });
  }
}

/** A task in a dedicated child process; adds `pid` and `kill(signal)`. */
export class Process<T extends AnyTask> extends Runner<T> {
  #pid: number | undefined;

  protected createPool(): PoolBase {
    const pool = new ProcessPool({ workers: 1 });
    return pool;
  }

  override start(): this {
    super.start();
    this.#pid = this.pool!.stats.workers[0]?.pid;
    return this;
  }

  /** The child's process id, once started. */
  get pid(): number | undefined {
    return this.#pid;
  }

  /** Sends `signal` to the child; the task fails with WorkerCrashedError, `exitCode` becomes -signal. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.pool) throw new InvalidStateError('cannot kill a Process that was never started');
    if (!this.isAlive()) return;
    this.killedWith = signal;
    // Killed before its task reached the child: the task never runs.
    if (this.future.state === 'pending') this.future.cancel();
    this.pool.terminateWorkers(signal);
  }
}
