/**
 * The one place weft's work-moving code reports to observability, and the slot that says
 * whether anybody listens. This module imports nothing, so every floor may use it (the core
 * included): the integrations (`tracing.ts` with @opentelemetry/api, `metrics.ts` with
 * prom-client) live at the edge and fill the slot only when the user calls `observe()`.
 *
 *   executor / pool worker / broker / rpc code
 *        │   const h = hooks.current; if (h) h.event(...)      ◀── off: one read and a branch
 *        ▼
 *   hooks.current ── Fanout ──▶ tracing (spans, context in and out of carriers)
 *                          └──▶ metrics (counters, histograms, gauges)
 *
 * Trace context crosses every boundary as a W3C `traceparent` string (the "carrier"): a pool
 * sends it to its worker before the call, the embedded cluster before the lease, the durable
 * cluster in the message headers, RPC in the CALL frame. A process that receives one while its
 * own observability is off still passes it on (`propagateOnly`), so a trace is not cut by a
 * worker process that has no tracer of its own.
 */

/** What a hook sees of a job (the core's Job satisfies it). */
export interface ObservedJob {
  readonly id: string;
  readonly attempt: number;
  readonly task: { readonly taskName: string } | undefined;
  readonly fn: { readonly name: string };
  /** The observer's state for the job (a field, not a WeakMap entry: measured as far less GC). */
  observed: unknown;
}

/** Something that ends when the work it watches ends: a span, a timer, both. */
export interface Scope {
  /** The carrier that work started inside this scope continues from (undefined: no trace). */
  readonly traceparent: string | undefined;
  event(name: string, attributes?: Attributes): void;
  end(error?: unknown): void;
}

export type Attributes = Record<string, string | number | boolean>;

/** Per-job state lives in `job.observed`; per received work, in the observer's WeakMap. */
export interface Hooks {
  // ---- executors (ExecutorBase): every backend reports through these ------------------------
  taskSubmitted(executor: object, kind: string, job: ObservedJob): void;
  attemptStarted(kind: string, job: ObservedJob): void;
  /** 'requeued': the attempt never ran (its worker was lost before reaching it). */
  attemptEnded(kind: string, job: ObservedJob, outcome: 'ok' | 'error' | 'requeued', error?: unknown): void;
  taskRetrying(kind: string, job: ObservedJob, error: unknown): void;
  taskCancelled(kind: string, job: ObservedJob): void;
  taskFinished(kind: string, job: ObservedJob, state: string): void;
  /** The carrier to send with the job's running attempt, or undefined. */
  carrierOf(job: ObservedJob): string | undefined;
  /** Something happened to a job that the submitter only hears of (a remote retry, a redelivery). */
  jobEvent(job: ObservedJob, name: string, attributes?: Attributes): void;

  // ---- the far side of a boundary (pool worker, cluster worker, broker worker, rpc server) ---
  /**
   * Work received with `traceparent` starts: a CONSUMER / SERVER span under the carrier, bound
   * to `context` (the TaskContext it runs with) so work it starts continues the trace.
   */
  received(context: object, kind: 'task' | 'rpc' | 'message', name: string, traceparent: string | undefined, attributes: Attributes): Scope;
  /** Runs fn with the scope's context active. */
  within<R>(scope: Scope, fn: () => R): R;
  /** The carrier of the work running here (to resume it later with withCarrier), or undefined. */
  carrier(): string | undefined;
  /** Runs fn's synchronous part with `carrier` as the current trace (work queued, then started later). */
  withCarrier<R>(carrier: string, fn: () => R): R;

  // ---- rpc client --------------------------------------------------------------------------
  rpcCall(method: string): Scope;

  // ---- brokers ----------------------------------------------------------------------------
  /** Headers to publish with: these plus the current trace's `traceparent` (if any and not set). */
  tracedHeaders(headers: Record<string, string> | undefined): Record<string, string> | undefined;
  /**
   * A request/reply over a broker: a CLIENT span until the reply (or its failure); the request
   * is published with `requestHeaders(scope, headers)`, so the responder's span is its child.
   */
  brokerRequest(queue: string): Scope;
  requestHeaders(scope: Scope, headers: Record<string, string> | undefined): Record<string, string> | undefined;
  /** A consumer received a message it must settle (ack or nack). */
  messageHeld(queue: string): void;
  messageSettled(queue: string): void;
}

/** Shared by every copy of weft in this thread (two copies must not observe twice). */
export const hooks: { current: Hooks | undefined } = ((globalThis as Record<symbol, unknown>)[Symbol.for('weft.observeHooks')] ??=
  { current: undefined }) as { current: Hooks | undefined };

