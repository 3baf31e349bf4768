import { InvalidStateError } from '../core/errors.js';
import { checkMilliseconds, expected } from '../core/validate.js';

/**
 * `new Timer(ms, fn, ...args)` (threading.Timer): after `start()`, runs `fn(...args)` once `ms`
 * have passed, unless `cancel()` came first. It runs on this thread's event loop (a function
 * cannot cross into another thread); to run work elsewhere at a time, submit it from `fn`.
 *
 * Like a thread that is not a daemon, a started timer keeps the process alive until it has
 * run or been cancelled. `join()` waits for that and gives what `fn` returned (or rejects with
 * what it threw); a failure nobody joins is reported as a process warning, not lost.
 */
export class Timer<A extends unknown[] = unknown[], R = unknown> {
  readonly #ms: number;
  readonly #fn: (...args: A) => R | Promise<R>;
  readonly #args: A;
  #state: 'new' | 'waiting' | 'running' | 'finished' | 'cancelled' = 'new';
  #handle: ReturnType<typeof setTimeout> | undefined;
  #joined = false;
  #settle!: { resolve(value: R | undefined): void; reject(error: unknown): void };
  readonly #done: Promise<R | undefined>;

  constructor(ms: number, fn: (...args: A) => R | Promise<R>, ...args: A) {
    this.#ms = checkMilliseconds('ms', ms);
    if (typeof fn !== 'function') throw new TypeError(expected('fn', 'a function', fn));
    this.#fn = fn;
    this.#args = args;
    this.#done = new Promise((resolve, reject) => { this.#settle = { resolve, reject }; });
    this.#done.catch(() => {});
  }

  /** Starts the countdown; a timer starts once (InvalidStateError otherwise). */
  start(): this {
    if (this.#state !== 'new') throw new InvalidStateError(`a Timer starts once; this one is ${this.#state}`);
    this.#state = 'waiting';
    this.#handle = setTimeout(() => void this.#run(), this.#ms);
    return this;
  }

  /** Stops a timer that has not fired yet; does nothing once `fn` has started. */
  cancel(): void {
    if (this.#state !== 'waiting' && this.#state !== 'new') return;
    clearTimeout(this.#handle);
    this.#state = 'cancelled';
    this.#settle.resolve(undefined);
  }

  /** Started and neither finished nor cancelled. */
  isAlive(): boolean {
    return this.#state === 'waiting' || this.#state === 'running';
  }

  /** True once `fn` has run to the end. */
  get finished(): boolean {
    return this.#state === 'finished';
  }

  /** Resolves with what `fn` returned (undefined if cancelled); rejects with what it threw. */
  join(): Promise<R | undefined> {
    this.#joined = true;
    return this.#done;
  }

  async #run(): Promise<void> {
    this.#state = 'running';
    try {
      const value = await this.#fn(...this.#args);
      this.#state = 'finished';
      this.#settle.resolve(value);
    } catch (error) {
      this.#state = 'finished';
      this.#settle.reject(error);
      if (!this.#joined) process.emitWarning(error instanceof Error ? error : String(error), { type: 'TimerError' });
    }
  }
}
