import type { TaskContext } from '../../core/context.js';
import { LazyAbortContext } from '../../core/lazy-abort.js';
import { CancelledError, TimeoutError } from '../../core/errors.js';
import { Future, futureInternals, type CancelListener } from '../../core/future.js';
import { checkMilliseconds, checkSignal, expected } from '../../core/validate.js';

/** Options of one remote call. */
export interface CallOptions {
  /** Milliseconds before the call rejects with TimeoutError; the remote handler's signal aborts too. */
  timeout?: number;
  /** Aborting it cancels the call: it rejects with CancelledError and the remote handler's signal aborts. */
  signal?: AbortSignal;
}

export function checkCallOptions(options: unknown): CallOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
  const o = options as CallOptions;
  if (o.timeout !== undefined) checkMilliseconds('timeout', o.timeout);
  if (o.signal !== undefined) checkSignal('signal', o.signal);
  return o;
}

/** Why a caller gave up on a call; sent in CANCEL so the handler's signal aborts with the matching error. */
export type CancelReason = 'cancel' | 'timeout';

/** The session side a pending call reports to. */
export interface CallOwner {
  abandon(call: OutgoingCall, reason: CancelReason): void;
}

/**
 * A call this side made and the peer has not answered. Its frame is encoded when the call is
 * made (so the arguments are captured then, and a value that cannot be sent fails at once);
 * the id is written into the header only when it leaves, which may be later when the peer's
 * in-flight window is full.
 */
export class OutgoingCall implements CancelListener {
  readonly future = new Future<any, any>();
  id = 0;
  frame: Buffer | undefined;
  readonly label: string;
  #owner: CallOwner;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  constructor(owner: CallOwner, label: string) {
    this.#owner = owner;
    this.label = label;
    futureInternals.setRunning(this.future);
    futureInternals.setCancelListener(this.future, this);
  }

  /** Arms the timeout and the caller's signal. */
  watch(options: CallOptions | undefined): void {
    if (!options) return;
    if (options.timeout !== undefined) {
      const ms = options.timeout;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.fail(new TimeoutError(`remote call ${this.label} did not answer within ${ms} ms`));
        this.#owner.abandon(this, 'timeout');
      }, ms);
    }
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) return void queueMicrotask(() => this.future.cancel());
      this.#signal = signal;
      this.#onAbort = () => this.future.cancel();
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  onCancel(): void {
    this.#unwatch();
    this.#owner.abandon(this, 'cancel');
  }

  succeed(value: unknown): void {
    this.#unwatch();
    if (this.future.state === 'running') futureInternals.setResult(this.future, value);
  }

  fail(error: unknown): void {
    this.#unwatch();
    if (this.future.state === 'running') futureInternals.setException(this.future, error);
  }

  push(value: unknown): void {
    if (this.future.state === 'running') futureInternals.pushValue(this.future, value);
  }

  progress(value: unknown): void {
    futureInternals.reportProgress(this.future, value);
  }

  #unwatch(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onAbort) this.#signal!.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
  }
}

/** The session side a running handler reports to. */
export interface HandlerOwner {
  handlerYield(call: IncomingCall, value: unknown): void;
  handlerProgress(call: IncomingCall, value: unknown): void;
}

/**
 * A call the peer made that is running here. It is the handler's TaskContext, so
 * `taskContext()` inside an exposed method gives the call's signal (aborted when the caller
 * cancels, times out or disconnects) and `progress`, which reaches the caller's
 * `future.onProgress`. The AbortController is made only when somebody reads `signal`.
 */
export class IncomingCall extends LazyAbortContext implements TaskContext {
  readonly attempt = 1;
  readonly callId: number;
  #owner: HandlerOwner;

  constructor(owner: HandlerOwner, callId: number) {
    super();
    this.#owner = owner;
    this.callId = callId;
  }

  get id(): string {
    return `call-${this.callId}`;
  }

  progress(value: unknown): void {
    this.#owner.handlerProgress(this, value);
  }

  /** Streams a generator method's value to the caller (shared, so a call allocates no closure). */
  static onValue(call: IncomingCall, value: unknown): void {
    call.#owner.handlerYield(call, value);
  }
}

export function cancelError(reason: unknown): Error {
  return reason === 'timeout'
    ? new TimeoutError('the caller stopped waiting: its timeout passed')
    : new CancelledError('the caller cancelled the call');
}
