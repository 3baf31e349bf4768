import { CancelledError, InvalidStateError, TimeoutError } from './errors.js';
import { checkMilliseconds } from './validate.js';

/**
 * A Future is an explicit state machine. The only legal transitions are
 *
 *   pending ──▶ running ──▶ done | failed
 *   pending | running ──▶ cancelled
 *
 * Anything else throws InvalidStateError. Users only read a future and cancel it; executors
 * drive it through {@link futureInternals}, which is not part of the public API.
 *
 * Rejections never become unhandled on their own: the promise behind `then` is created only
 * when somebody awaits, so a failed future that nobody looks at stays quiet.
 */
export type FutureState = 'pending' | 'running' | 'done' | 'failed' | 'cancelled';

/** What an executor attaches to a future to hear about cancellation of its task. */
export interface CancelListener {
  onCancel(): void;
}

type DoneCallback = (future: Future<any, any>) => void;

/** The resolvers of a pending future's settled promise (a record is smaller than a closure). */
class Settler {
  constructor(readonly resolve: (value: unknown) => void, readonly reject: (reason: unknown) => void) {}
}

type DoneEntry = DoneCallback | ChainedFuture<any> | Settler;

let capturedResolve: ((value: any) => void) | undefined;
let capturedReject: ((reason: unknown) => void) | undefined;
function captureResolvers(resolve: (value: any) => void, reject: (reason: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

let nextFutureId = 1;

// Assigned by Future's static block; declared first so the block does not hit the TDZ.
export let futureInternals: FutureInternals;

export class Future<T = unknown, Y = unknown> implements Promise<T>, AsyncIterable<Y> {
  #state: FutureState = 'pending';
  #outcome: unknown;
  #id: string | number;
  /** One entry is stored bare; an array only once there are two (most futures have one). */
  #callbacks: DoneEntry | DoneEntry[] | undefined;
  #listener: CancelListener | undefined;
  /**
   * What few futures use, made on first use: the settled promise alone (the common case, kept
   * bare), or a record with progress listeners and a yield stream too.
   */
  #extras: FutureExtras<T, Y> | Promise<T> | undefined;

  /** Executors create futures; `id` defaults to a process-unique number. */
  constructor(id?: string) {
    this.#id = id ?? nextFutureId++;
  }

  get id(): string {
    return typeof this.#id === 'string' ? this.#id : (this.#id = String(this.#id));
  }

  get state(): FutureState {
    return this.#state;
  }

  /** True once the future is done, failed or cancelled. */
  done(): boolean {
    return this.#state === 'done' || this.#state === 'failed' || this.#state === 'cancelled';
  }

  /**
   * Cancels a pending or running future; returns false when it had already finished. A running
   * task is told through `taskContext().signal`; what it does with that is up to the task and
   * the executor (see the README's cancellation table).
   */
  cancel(): boolean {
    if (this.done()) return false;
    Future.#settle(this, 'cancelled', new CancelledError(`future ${this.id} was cancelled`));
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.onCancel();
    return true;
  }

  /**
   * A pending future answers `then` without a native promise: the handlers wait in the future's
   * callback list and the chained result is a derived Future, settled one microtask after this
   * one, as a promise's would be. `await future` and `Promise.all(futures)` pay the engine's
   * wrapper plus about a hundred bytes, against three or four promise objects otherwise.
   * A finished future chains off its settled promise (one `Promise.resolve`, no closures).
   */
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this.done()) return Future.#settledPromise(this).then(onFulfilled, onRejected);
    const derived = new ChainedFuture<R1 | R2>(onFulfilled, onRejected);
    Future.#addCallback(this, derived);
    return derived;
  }

  catch<R = never>(onRejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return Future.#settledPromise(this).finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return 'Future';
  }

  /**
   * The result. With `timeoutMs`, rejects with TimeoutError if the future has not finished by
   * then; the future itself keeps running.
   */
  result(timeoutMs?: number): Promise<T> {
    if (timeoutMs === undefined || this.done()) return Future.#settledPromise(this);
    checkMilliseconds('timeoutMs', timeoutMs);
    return withTimeout(Future.#settledPromise(this), timeoutMs, () =>
      new TimeoutError(`future ${this.id} did not finish within ${timeoutMs} ms (state: ${this.#state})`));
  }

  /** The error the task failed with, or undefined when it succeeded. Rejects if cancelled. */
  async exception(timeoutMs?: number): Promise<unknown> {
    try {
      await this.result(timeoutMs);
      return undefined;
    } catch (error) {
      if (this.#state === 'failed') return error;
      throw error;
    }
  }

  /** Calls `callback(future)` once the future finishes; at once if it already has. */
  onDone(callback: (future: Future<T, Y>) => void): this {
    if (this.done()) runCallback(callback, this);
    else Future.#addCallback(this, callback as DoneCallback);
    return this;
  }

  /** Calls `callback(value)` for each `taskContext().progress(value)` of the running task. */
  onProgress(callback: (value: unknown) => void): this {
    const extras = Future.#extrasOf(this);
    (extras.progress ??= []).push(callback);
    return this;
  }

  /**
   * The values a generator task yields, in order, ending when the task returns and throwing
   * its error if it fails. One consumer per future; breaking out early cancels the task.
   */
  [Symbol.asyncIterator](): AsyncIterator<Y> {
    const extras = Future.#extrasOf(this);
    return (extras.stream ??= new YieldStream<Y>()).claim(this);
  }

  // Static private methods: instance ones would cost every future a slot (the class brand).
  static #settledPromise<T>(self: Future<T, any>): Promise<T> {
    const extras = self.#extras;
    if (extras instanceof Promise) return extras;
    if (extras?.promise) return extras.promise;
    let promise: Promise<T>;
    if (self.#state === 'done') promise = Promise.resolve(self.#outcome as T);
    else if (self.#state === 'failed' || self.#state === 'cancelled') promise = Promise.reject(self.#outcome);
    else {
      // The executor is a shared function, not a closure: the resolvers go into one small record.
      promise = new Promise<T>(captureResolvers);
      Future.#addCallback(self, new Settler(capturedResolve!, capturedReject!));
      capturedResolve = capturedReject = undefined;
    }
    if (extras) extras.promise = promise;
    else self.#extras = promise;
    return promise;
  }

  /** The extras record; the slot holds a bare promise until something else is needed. */
  static #extrasOf<T, Y>(self: Future<T, Y>): FutureExtras<T, Y> {
    const slot = self.#extras;
    if (slot instanceof FutureExtras) return slot;
    const extras = new FutureExtras<T, Y>();
    extras.promise = slot;
    return (self.#extras = extras);
  }

  /** Runs one `then` reaction: the handler's result (or the passed-through outcome) settles `derived`. */
  static #react(self: Future<any, any>, derived: ChainedFuture<any>): void {
    const ok = self.#state === 'done';
    const handler = ok ? derived.onFulfilled : derived.onRejected;
    derived.onFulfilled = derived.onRejected = undefined; // run once; free the closures
    if (typeof handler !== 'function') {
      Future.#settleDerived(derived, ok, self.#outcome);
      return;
    }
    let value: unknown;
    try {
      value = handler(self.#outcome);
    } catch (error) {
      Future.#settleDerived(derived, false, error);
      return;
    }
    Future.#resolveDerived(derived, value);
  }

  /** Promise resolution: a thenable result is followed (its `then` called a microtask later, as the engine does). */
  static #resolveDerived(derived: Future<any, any>, value: unknown): void {
    if (value === derived) {
      Future.#settleDerived(derived, false, new TypeError(`future ${derived.id} was resolved with itself`));
      return;
    }
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
      Future.#settleDerived(derived, true, value);
      return;
    }
    let then: unknown;
    try {
      then = (value as PromiseLike<unknown>).then;
    } catch (error) {
      Future.#settleDerived(derived, false, error);
      return;
    }
    if (typeof then !== 'function') {
      Future.#settleDerived(derived, true, value);
      return;
    }
    queueMicrotask(() => {
      let called = false;
      try {
        then.call(
          value,
          (v: unknown) => { if (!called) { called = true; Future.#resolveDerived(derived, v); } },
          (e: unknown) => { if (!called) { called = true; Future.#settleDerived(derived, false, e); } },
        );
      } catch (error) {
        if (!called) { called = true; Future.#settleDerived(derived, false, error); }
      }
    });
  }

  static #settleDerived(derived: Future<any, any>, ok: boolean, outcome: unknown): void {
    if (derived.done()) return; // cancelled by its holder meanwhile
    const watched = derived.#callbacks !== undefined || derived.#extras !== undefined;
    Future.#settle(derived, ok ? 'done' : 'failed', outcome);
    // A rejected chain nobody follows must surface as a native one would: as an unhandled
    // rejection, tracked by the engine from here on (a later catch marks it handled).
    if (!ok && !watched) derived.#extras = Promise.reject(outcome);
  }

  static #settle(self: Future<any, any>, state: FutureState, outcome: unknown): void {
    self.#state = state;
    self.#outcome = outcome;
    const extras = self.#extras;
    if (extras instanceof FutureExtras) {
      extras.progress = undefined;
      extras.stream?.end(state === 'done' ? undefined : outcome, state === 'done');
    }
    const callbacks = self.#callbacks;
    self.#callbacks = undefined;
    if (callbacks === undefined) return;
    if (!Array.isArray(callbacks)) Future.#dispatch(self, callbacks);
    else for (const cb of callbacks) Future.#dispatch(self, cb);
  }

  /** onDone callbacks run now; a `then` reaction a microtask later; a settled promise is resolved. */
  static #dispatch(self: Future<any, any>, entry: DoneEntry): void {
    if (typeof entry === 'function') runCallback(entry, self);
    else if (entry instanceof Settler) {
      if (self.#state === 'done') entry.resolve(self.#outcome);
      else entry.reject(self.#outcome);
    } else queueMicrotask(() => Future.#react(self, entry as ChainedFuture<any>));
  }

  static #addCallback(self: Future<any, any>, callback: DoneEntry): void {
    const existing = self.#callbacks;
    if (existing === undefined) self.#callbacks = callback;
    else if (!Array.isArray(existing)) self.#callbacks = [existing, callback];
    else existing.push(callback);
  }

  static #require(self: Future<any, any>, allowed: FutureState, action: string): void {
    if (self.#state !== allowed) {
      throw new InvalidStateError(`cannot ${action} future ${self.id}: it is ${self.#state}, expected ${allowed}`);
    }
  }

  static {
    futureInternals = {
      setRunning(future) {
        Future.#require(future, 'pending', 'start');
        future.#state = 'running';
      },
      setResult(future, value) {
        Future.#require(future, 'running', 'set the result of');
        Future.#settle(future, 'done', value);
      },
      setException(future, error) {
        Future.#require(future, 'running', 'set the exception of');
        Future.#settle(future, 'failed', error);
      },
      pushValue(future, value) {
        Future.#require(future, 'running', 'stream a value to');
        (Future.#extrasOf(future).stream ??= new YieldStream()).push(value);
      },
      reportProgress(future, value) {
        const extras = future.#extras;
        const listeners = extras instanceof FutureExtras ? extras.progress : undefined;
        if (listeners) for (const listener of listeners) runCallback(listener, value);
      },
      setCancelListener(future, listener) {
        future.#listener = listener;
      },
      outcome(future) {
        return future.#outcome;
      },
    };
  }
}

/**
 * The future a pending future's `then` returns. It carries its own handlers and waits in the
 * source's callback list itself, so a chained `then` costs one object.
 */
class ChainedFuture<T> extends Future<T, never> {
  constructor(
    public onFulfilled: ((value: any) => unknown) | null | undefined,
    public onRejected: ((reason: any) => unknown) | null | undefined,
  ) {
    super();
  }
}

/** A future's rarely needed parts. */
class FutureExtras<T, Y> {
  promise: Promise<T> | undefined = undefined;
  progress: ((value: unknown) => void)[] | undefined = undefined;
  stream: YieldStream<Y> | undefined = undefined;
}

/** The executor side of a future. Not exported from the package. */
export interface FutureInternals {
  setRunning(future: Future<any, any>): void;
  setResult(future: Future<any, any>, value: unknown): void;
  setException(future: Future<any, any>, error: unknown): void;
  pushValue(future: Future<any, any>, value: unknown): void;
  reportProgress(future: Future<any, any>, value: unknown): void;
  setCancelListener(future: Future<any, any>, listener: CancelListener | undefined): void;
  /** The result or error of a finished future, read without waiting a tick. */
  outcome(future: Future<any, any>): unknown;
}

export function isFuture(value: unknown): value is Future<unknown, unknown> {
  return value instanceof Future;
}

function runCallback<A>(callback: (arg: A) => void, arg: A): void {
  try {
    callback(arg);
  } catch (error) {
    // A broken callback must not break the future or its other callbacks (CPython logs it too).
    process.emitWarning(`a future callback threw: ${error instanceof Error ? error.stack : String(error)}`, 'WeftCallbackWarning');
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, makeError: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(makeError()), ms);
    promise.then(
      (value) => { clearTimeout(timer); resolve(value); },
      (error) => { clearTimeout(timer); reject(error); },
    );
  });
}

/** Buffers a generator task's values until its single consumer reads them. */
class YieldStream<Y> {
  #values: Y[] = [];
  #head = 0;
  #ended = false;
  #ok = true;
  #error: unknown;
  #wake: (() => void) | undefined;
  #claimed = false;

  push(value: Y): void {
    this.#values.push(value);
    this.#notify();
  }

  end(error: unknown, ok: boolean): void {
    this.#ended = true;
    this.#ok = ok;
    this.#error = error;
    this.#notify();
  }

  claim(future: Future<any, Y>): AsyncIterator<Y> {
    if (this.#claimed) throw new InvalidStateError(`future ${future.id} is already being iterated; it has one consumer`);
    this.#claimed = true;
    return {
      next: () => this.#next(),
      return: async () => {
        future.cancel();
        return { done: true, value: undefined };
      },
    };
  }

  async #next(): Promise<IteratorResult<Y>> {
    for (;;) {
      if (this.#head < this.#values.length) {
        const value = this.#values[this.#head]!;
        this.#values[this.#head++] = undefined as Y;
        if (this.#head > 1024 && this.#head * 2 > this.#values.length) {
          this.#values = this.#values.slice(this.#head);
          this.#head = 0;
        }
        return { done: false, value };
      }
      if (this.#ended) {
        if (this.#ok) return { done: true, value: undefined };
        throw this.#error;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
