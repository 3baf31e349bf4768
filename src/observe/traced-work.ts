import { hooks, type Attributes, type Scope } from './hooks.js';
import { propagateTraces } from './propagate.js';

/**
 * Spans of work a worker received with a trace carrier and runs by key (a cluster lease, a
 * broker delivery) until its outcome comes back: begin() runs the hand-off to the local pool
 * inside the span, so the pool's own spans (and their carriers) continue the trace.
 *
 *   WORK / message + traceparent ─▶ begin(key) ─▶ span (CONSUMER) ─▶ runner.run(...) in it
 *   outcome for key ─────────────▶ end(key, error?) ─▶ span ends
 */
export class TracedWork {
  readonly #scopes = new Map<number, Scope>();

  begin(key: number, name: string, traceparent: string, attributes: Attributes, run: () => void): void {
    propagateTraces();
    const h = hooks.current!;
    const scope = h.received({}, 'task', name, traceparent, attributes);
    this.#scopes.set(key, scope);
    h.within(scope, run);
  }

  event(key: number, name: string, attributes?: Attributes): void {
    this.#scopes.get(key)?.event(name, attributes);
  }

  end(key: number, error?: unknown): void {
    const scope = this.#scopes.get(key);
    if (!scope) return;
    this.#scopes.delete(key);
    scope.end(error);
  }
}
