/**
 * The abort half of a TaskContext, shared by every place a task runs (executor jobs, pool
 * workers, RPC calls). The AbortController is made only when somebody reads `signal`: most
 * tasks never do, and a million pending green tasks should not pay for a million controllers.
 */
export abstract class LazyAbortContext {
  #controller: AbortController | undefined;
  #reason: unknown;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether abort() was called, without creating the signal. */
  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  /** Aborts the signal with `reason`; later calls keep the first reason. */
  abort(reason: unknown): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  /** A fresh signal that has not aborted (a new attempt of the same task). */
  protected resetAbort(): void {
    if (this.#reason === undefined) return;
    this.#reason = undefined;
    this.#controller = undefined;
  }
}
