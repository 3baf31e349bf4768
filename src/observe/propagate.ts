import { hooks } from './hooks.js';
import { Observer } from './observer.js';
import { Passthrough } from './tracing.js';

/**
 * A worker (thread, process, cluster or broker worker) received work with a trace carrier
 * while nothing observes here: from now on carriers are passed on unchanged, so the work this
 * process starts (an RPC call, a broker message, a nested task) stays in the caller's trace.
 * No OpenTelemetry is loaded and no span is made here; `observe()` in this process replaces it.
 */
export function propagateTraces(): void {
  hooks.current ??= new Observer(new Passthrough(), undefined);
}
