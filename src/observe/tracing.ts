import type * as Otel from '@opentelemetry/api';
import type { Attributes, Scope } from './hooks.js';
import { formatTraceparent, parseTraceparent } from './traceparent.js';

/**
 * Spans through @opentelemetry/api (loaded by observe() only when tracing is asked for). Names
 * and attributes follow OpenTelemetry's messaging and RPC semantic conventions:
 *
 *   submitter                          worker (thread, process, host, broker)
 *   submit <task>   PRODUCER ─┐
 *     attempt <task> INTERNAL ├─ carrier ─▶ process <task> CONSUMER ── work it starts ─▶ …
 *     attempt <task> (retry)  ┘
 *   <service>/<method> CLIENT ─── carrier in the CALL frame ──▶ <service>/<method> SERVER
 *   request <queue> CLIENT ──── traceparent header ──▶ process <queue> CONSUMER (the responder)
 *
 * Retries, redeliveries and cancellations are span events on the task's span. Without an
 * OpenTelemetry context manager the running task still knows its carrier (the observer reads
 * it from weft's own task context), so a trace is carried through work nested in a task.
 */
export interface TraceSide {
  task(name: string, destination: string, id: string, parent: string | undefined): TaskTrace;
  received(kind: 'task' | 'rpc' | 'message', name: string, parent: string | undefined, attributes: Attributes): Scope;
  within<R>(scope: Scope, fn: () => R): R;
  rpcCall(method: string, parent: string | undefined): Scope;
  brokerRequest(queue: string, parent: string | undefined): Scope;
  /** The carrier of OpenTelemetry's active span, if one is valid. */
  activeCarrier(): string | undefined;
}

export interface TaskTrace {
  carrier(): string | undefined;
  attemptStarted(attempt: number): void;
  attemptEnded(outcome: 'ok' | 'error' | 'requeued', error?: unknown): void;
  event(name: string, attributes?: Attributes): void;
  end(state: string, error?: unknown): void;
}

/** OpenTelemetry's error.type: the error's class, the remote one for a RemoteError. */
export function errorType(error: unknown): string {
  if (!(error instanceof Error)) return typeof error === 'object' && error !== null && typeof (error as { name?: unknown }).name === 'string' ? (error as { name: string }).name : typeof error;
  return (error as { remoteName?: string }).remoteName ?? error.name;
}

export const MESSAGING_SYSTEM = 'weft';
export const RPC_SYSTEM = 'weft';

export class Tracing implements TraceSide {
  readonly #api: typeof Otel;
  readonly #tracer: Otel.Tracer;

  constructor(api: typeof Otel, tracer: Otel.Tracer) {
    this.#api = api;
    this.#tracer = tracer;
  }

  activeCarrier(): string | undefined {
    const span = this.#api.trace.getSpan(this.#api.context.active());
    return span ? this.#carrierOf(span) : undefined;
  }

  task(name: string, destination: string, id: string, parent: string | undefined): TaskTrace {
    const span = this.#tracer.startSpan(`submit ${name}`, {
      kind: this.#api.SpanKind.PRODUCER,
      attributes: {
        'messaging.system': MESSAGING_SYSTEM,
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'submit',
        'messaging.destination.name': destination,
        'messaging.message.id': id,
        'weft.task.name': name,
      },
    }, this.#parent(parent));
    return new SpanTaskTrace(this, span, name);
  }

  /** An attempt's span, child of the task's. */
  attempt(task: Otel.Span, name: string, attempt: number): Otel.Span {
    return this.#tracer.startSpan(`attempt ${name}`, {
      kind: this.#api.SpanKind.INTERNAL,
      attributes: { 'weft.task.attempt': attempt },
    }, this.#api.trace.setSpan(this.#api.context.active(), task));
  }

  received(kind: 'task' | 'rpc' | 'message', name: string, parent: string | undefined, attributes: Attributes): Scope {
    const rpc = kind === 'rpc';
    const span = this.#tracer.startSpan(rpc ? `weft.rpc/${name}` : `process ${name}`, {
      kind: rpc ? this.#api.SpanKind.SERVER : this.#api.SpanKind.CONSUMER,
      attributes: rpc
        ? { 'rpc.system': RPC_SYSTEM, 'rpc.service': 'weft.rpc', 'rpc.method': name, ...attributes }
        : { 'messaging.system': MESSAGING_SYSTEM, 'messaging.operation.type': 'process', 'messaging.operation.name': 'process', ...attributes },
    }, this.#remoteParent(parent));
    return new SpanScope(this, span);
  }

  rpcCall(method: string, parent: string | undefined): Scope {
    const span = this.#tracer.startSpan(`weft.rpc/${method}`, {
      kind: this.#api.SpanKind.CLIENT,
      attributes: { 'rpc.system': RPC_SYSTEM, 'rpc.service': 'weft.rpc', 'rpc.method': method },
    }, this.#parent(parent));
    return new SpanScope(this, span);
  }

  brokerRequest(queue: string, parent: string | undefined): Scope {
    const span = this.#tracer.startSpan(`request ${queue}`, {
      kind: this.#api.SpanKind.CLIENT,
      attributes: {
        'messaging.system': MESSAGING_SYSTEM, 'messaging.destination.name': queue,
        'messaging.operation.type': 'send', 'messaging.operation.name': 'request',
      },
    }, this.#parent(parent));
    return new SpanScope(this, span);
  }

  within<R>(scope: Scope, fn: () => R): R {
    if (!(scope instanceof SpanScope)) return fn();
    return this.#api.context.with(this.#api.trace.setSpan(this.#api.context.active(), scope.span), fn);
  }

  /** Ends a span with the outcome: an error sets its status and records the exception. */
  finish(span: Otel.Span, error: unknown): void {
    if (error !== undefined) {
      if (error instanceof Error) span.recordException(error);
      span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      span.setAttribute('error.type', errorType(error));
    }
    span.end();
  }

  carrierOfSpan(span: Otel.Span): string | undefined {
    return this.#carrierOf(span);
  }

  #carrierOf(span: Otel.Span): string | undefined {
    const ids = span.spanContext();
    return this.#api.isSpanContextValid(ids) ? formatTraceparent(ids) : undefined;
  }

  /**
   * The parent of work received: the carrier it came with. (The active context here may be
   * another trace's: an in-process broker delivers in the publisher's async context.)
   */
  #remoteParent(carrier: string | undefined): Otel.Context {
    const ids = parseTraceparent(carrier);
    return ids ? this.#api.trace.setSpanContext(this.#api.ROOT_CONTEXT, { ...ids, isRemote: true }) : this.#parent(undefined);
  }

  /**
   * The parent of a new span: the carrier the observer found (see Observer.currentCarrier), in
   * the active context when that is the active span's own, else as a remote parent.
   */
  #parent(carrier: string | undefined): Otel.Context {
    const active = this.#api.context.active();
    if (carrier === undefined) return active;
    const span = this.#api.trace.getSpan(active);
    if (span && carrier.slice(36, 52) === span.spanContext().spanId) return active;
    const ids = parseTraceparent(carrier);
    return ids ? this.#api.trace.setSpanContext(active, { ...ids, isRemote: true }) : active;
  }
}

class SpanScope implements Scope {
  readonly traceparent: string | undefined;

  constructor(readonly tracing: Tracing, readonly span: Otel.Span) {
    this.traceparent = tracing.carrierOfSpan(span);
  }

  event(name: string, attributes?: Attributes): void {
    this.span.addEvent(name, attributes);
  }

  end(error?: unknown): void {
    this.tracing.finish(this.span, error);
  }
}

class SpanTaskTrace implements TaskTrace {
  #attempt: Otel.Span | undefined;
  #error: unknown;

  constructor(readonly tracing: Tracing, readonly span: Otel.Span, readonly name: string) {}

  carrier(): string | undefined {
    return this.tracing.carrierOfSpan(this.#attempt ?? this.span);
  }

  attemptStarted(attempt: number): void {
    this.#attempt = this.tracing.attempt(this.span, this.name, attempt);
  }

  attemptEnded(outcome: 'ok' | 'error' | 'requeued', error?: unknown): void {
    const span = this.#attempt;
    this.#attempt = undefined;
    if (outcome === 'error') this.#error = error;
    if (!span) return;
    if (outcome === 'requeued') span.addEvent('requeued', { reason: 'its worker was lost before it started' });
    this.tracing.finish(span, outcome === 'error' ? error : undefined);
  }

  event(name: string, attributes?: Attributes): void {
    this.span.addEvent(name, attributes);
  }

  end(state: string, error?: unknown): void {
    if (this.#attempt) this.attemptEnded('error', error ?? this.#error);
    this.span.setAttribute('weft.task.state', state);
    this.tracing.finish(this.span, state === 'failed' ? error ?? this.#error ?? 'failed' : undefined);
  }
}

/**
 * What a process whose own tracing is off does with a carrier it received: pass it on
 * unchanged to the work it starts (no spans, nothing loaded).
 */
export class Passthrough implements TraceSide {
  activeCarrier(): undefined {
    return undefined;
  }

  task(_name: string, _destination: string, _id: string, parent: string | undefined): TaskTrace {
    return parent === undefined ? NO_TASK_TRACE : new PassthroughTaskTrace(parent);
  }

  received(_kind: string, _name: string, parent: string | undefined): Scope {
    return new PassthroughScope(parent);
  }

  within<R>(_scope: Scope, fn: () => R): R {
    return fn();
  }

  rpcCall(_method: string, parent: string | undefined): Scope {
    return new PassthroughScope(parent);
  }

  brokerRequest(_queue: string, parent: string | undefined): Scope {
    return new PassthroughScope(parent);
  }
}

const noop = (): void => {};

class PassthroughScope implements Scope {
  constructor(readonly traceparent: string | undefined) {}
  event = noop;
  end = noop;
}

class PassthroughTaskTrace implements TaskTrace {
  constructor(readonly parent: string) {}
  carrier(): string {
    return this.parent;
  }
  attemptStarted = noop;
  attemptEnded = noop;
  event = noop;
  end = noop;
}

const NO_TASK_TRACE: TaskTrace = { carrier: () => undefined, attemptStarted: noop, attemptEnded: noop, event: noop, end: noop };
