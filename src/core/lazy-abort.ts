/**
 * The abort half of a TaskContext, shared by every place a task runs (executor jobs, pool
 * workers, RPC calls). The AbortController is made only when somebody reads `signal`: most
 * tasks never do, and a million pending green tasks should not pay for a million controllers.
 * One field holds the whole state (a million pending jobs each carry it): undefined (not
 * aborted, no signal yet), an AbortController (the signal was read), or an AbortedBeforeRead
 * (aborted before anybody read the signal).
 */
export abstract class LazyAbortContext {
  #abort: AbortController | AbortedBeforeRead | undefined;

  get signal(): AbortSignal {
    const state = this.#abort;
    if (state instanceof AbortController) return state.signal;
    const controller = new AbortController();
    if (state) controller.abort(state.reason);
    this.#abort = controller;
    return controller.signal;
  }

  /** Whether abort() was called, without creating the signal. */
  get aborted(): boolean {
    const state = this.#abort;
    return state instanceof AbortController ? state.signal.aborted : state !== undefined;
  }

  /**
   * Aborts the signal with `reason`; later calls keep the first reason. As with AbortController,
   * an undefined reason becomes an AbortError (and counts as aborted).
   */
  abort(reason?: unknown): void {
    const state = this.#abort;
    if (state instanceof AbortController) state.abort(reason);
    else if (state === undefined) this.#abort = new AbortedBeforeRead(reason ?? new DOMException('This operation was aborted', 'AbortError'));
  }

  /** A fresh signal that has not aborted (a new attempt of the same task). */
  protected resetAbort(): void {
    if (this.aborted) this.#abort = undefined;
  }
}

class AbortedBeforeRead {
  constructor(readonly reason: unknown) {}
}
