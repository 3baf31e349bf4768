import { currentTaskContext } from '../core/context.js';
import type { Attributes, Hooks, ObservedJob, Scope } from './hooks.js';
import type { Metrics, TaskSeries } from './metrics.js';
import { TRACEPARENT_HEADER } from './traceparent.js';
import { errorType, type TaskTrace, type TraceSide } from './tracing.js';

/**
 * The Hooks weft's code calls, fanned out to tracing and metrics (either may be absent). State
 * per job and per running context sits in WeakMaps here, so nothing is added to weft's own
 * objects and nothing is kept once they are dropped.
 *
 *   Job ──▶ JobState { name, queuedAt, startedAt, trace }     (submit → attempts → finish)
 *   TaskContext of work received with a carrier ──▶ Scope      (its carrier for nested work)
 */
interface JobState {
  name: string;
  queuedAt: number;
  startedAt: number;
  trace: TaskTrace | undefined;
  series: TaskSeries | undefined;
}

const stateOf = (job: ObservedJob): JobState | undefined => job.observed as JobState | undefined;

export class Observer implements Hooks {
  readonly #trace: TraceSide | undefined;
  readonly #metrics: Metrics | undefined;
  readonly #scopes = new WeakMap<object, Scope>();
  /** The carrier of the scope whose synchronous part runs now (see within). */
  #ambient: string | undefined;

  constructor(trace: TraceSide | undefined, metrics: Metrics | undefined) {
    this.#trace = trace;
    this.#metrics = metrics;
  }

  /**
   * The carrier of the work running here: the one set for the synchronous part of within() or
   * withCarrier(), else OpenTelemetry's active span, else weft's task context.
   */
  currentCarrier(): string | undefined {
    if (this.#ambient !== undefined) return this.#ambient;
    const active = this.#trace?.activeCarrier();
    if (active !== undefined) return active;
    const context = currentTaskContext();
    if (context === undefined) return undefined;
    return this.#scopes.get(context)?.traceparent ?? stateOf(context as unknown as ObservedJob)?.trace?.carrier();
  }

  // ---- executors ----------------------------------------------------------------------------

  taskSubmitted(executor: object, kind: string, job: ObservedJob): void {
    const name = job.task?.taskName ?? (job.fn.name || 'anonymous');
    const trace = this.#trace?.task(name, kind, job.id, this.#trace && this.currentCarrier());
    const metrics = this.#metrics;
    let series: TaskSeries | undefined;
    if (metrics) {
      metrics.watch(executor, kind);
      series = metrics.series(kind, name);
      series.submitted++;
    }
    job.observed = { name, queuedAt: performance.now(), startedAt: 0, trace, series } satisfies JobState;
  }

  attemptStarted(kind: string, job: ObservedJob): void {
    const state = stateOf(job);
    if (!state) return;
    const now = performance.now();
    state.series?.queueWait.observe((now - state.queuedAt) / 1000);
    state.startedAt = now;
    state.trace?.attemptStarted(job.attempt);
  }

  attemptEnded(kind: string, job: ObservedJob, outcome: 'ok' | 'error' | 'requeued', error?: unknown): void {
    const state = stateOf(job);
    if (!state) return;
    const now = performance.now();
    if (outcome !== 'requeued') state.series?.duration.observe((now - state.startedAt) / 1000);
    state.queuedAt = now; // a retry or a requeue waits again from here
    state.trace?.attemptEnded(outcome, error);
  }

  taskRetrying(kind: string, job: ObservedJob, error: unknown): void {
    const state = stateOf(job);
    if (!state) return;
    if (state.series) state.series.retried++;
    state.trace?.event('retry', { 'weft.task.attempt': job.attempt, 'error.type': errorType(error) });
  }

  taskCancelled(_kind: string, job: ObservedJob): void {
    stateOf(job)?.trace?.event('cancelled', { 'weft.task.attempt': job.attempt });
  }

  taskFinished(kind: string, job: ObservedJob, state: string): void {
    const entry = stateOf(job);
    if (!entry) return;
    job.observed = undefined;
    const series = entry.series;
    if (series) {
      if (state === 'done') series.completed++;
      else if (state === 'failed') series.failed++;
      else series.cancelled++;
    }
    entry.trace?.end(state);
  }

  carrierOf(job: ObservedJob): string | undefined {
    return stateOf(job)?.trace?.carrier();
  }

  jobEvent(job: ObservedJob, name: string, attributes?: Attributes): void {
    stateOf(job)?.trace?.event(name, attributes);
  }

  // ---- received work ------------------------------------------------------------------------

  received(context: object, kind: 'task' | 'rpc' | 'message', name: string, traceparent: string | undefined, attributes: Attributes): Scope {
    const scope = this.#trace ? this.#trace.received(kind, name, traceparent, attributes) : NO_SCOPE;
    if (scope.traceparent !== undefined) this.#scopes.set(context, scope);
    if (kind === 'rpc' && this.#metrics) return new TimedScope(scope, this.#metrics, name, 'server');
    return scope;
  }

  /**
   * Runs fn inside the scope: in OpenTelemetry's context (when a context manager is registered)
   * and, for its synchronous part, as weft's ambient carrier, so tasks it submits join the trace
   * even in a process with no tracer or no context manager.
   */
  within<R>(scope: Scope, fn: () => R): R {
    const inner = scope instanceof TimedScope ? scope.inner : scope;
    const previous = this.#ambient;
    this.#ambient = inner.traceparent ?? previous;
    try {
      return this.#trace ? this.#trace.within(inner, fn) : fn();
    } finally {
      this.#ambient = previous;
    }
  }

  carrier(): string | undefined {
    return this.#trace && this.currentCarrier();
  }

  withCarrier<R>(carrier: string, fn: () => R): R {
    const previous = this.#ambient;
    this.#ambient = carrier;
    try {
      return fn();
    } finally {
      this.#ambient = previous;
    }
  }

  rpcCall(method: string): Scope {
    const scope = this.#trace ? this.#trace.rpcCall(method, this.currentCarrier()) : NO_SCOPE;
    return this.#metrics ? new TimedScope(scope, this.#metrics, method, 'client') : scope;
  }

  // ---- brokers ------------------------------------------------------------------------------

  tracedHeaders(headers: Record<string, string> | undefined): Record<string, string> | undefined {
    if (headers?.[TRACEPARENT_HEADER] !== undefined) return headers;
    const carrier = this.#trace && this.currentCarrier();
    return carrier === undefined ? headers : { ...headers, [TRACEPARENT_HEADER]: carrier };
  }

  brokerRequest(queue: string): Scope {
    return this.#trace ? this.#trace.brokerRequest(queue, this.currentCarrier()) : NO_SCOPE;
  }

  requestHeaders(scope: Scope, headers: Record<string, string> | undefined): Record<string, string> | undefined {
    if (scope.traceparent === undefined || headers?.[TRACEPARENT_HEADER] !== undefined) return headers;
    return { ...headers, [TRACEPARENT_HEADER]: scope.traceparent };
  }

  messageHeld(queue: string): void {
    this.#metrics?.messageHeld(queue, 1);
  }

  messageSettled(queue: string): void {
    this.#metrics?.messageHeld(queue, -1);
  }
}

const noop = (): void => {};
const NO_SCOPE: Scope = { traceparent: undefined, event: noop, end: noop };

/** An RPC call's scope with its duration and outcome counted. */
class TimedScope implements Scope {
  readonly #started = performance.now();

  constructor(readonly inner: Scope, readonly metrics: Metrics, readonly method: string, readonly side: 'client' | 'server') {}

  get traceparent(): string | undefined {
    return this.inner.traceparent;
  }

  event(name: string, attributes?: Attributes): void {
    this.inner.event(name, attributes);
  }

  end(error?: unknown): void {
    const labels = { method: this.method, side: this.side };
    this.metrics.rpcCalls.inc(labels);
    if (error !== undefined) this.metrics.rpcErrors.inc(labels);
    this.metrics.rpcDuration.observe(labels, (performance.now() - this.#started) / 1000);
    this.inner.end(error);
  }
}
