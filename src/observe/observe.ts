import type * as Otel from '@opentelemetry/api';
import type * as Prom from 'prom-client';
import { expected } from '../core/validate.js';
import { hooks } from './hooks.js';
import { Metrics } from './metrics.js';
import type { MetricsOptions } from './options.js';
import { Observer } from './observer.js';
import { Tracing } from './tracing.js';

/**
 * Turns tracing and metrics on for this process. Off by default, and free when off: weft's
 * code only reads `hooks.current` (undefined) and never loads @opentelemetry/api or
 * prom-client; `observe()` loads the ones asked for and fills the slot.
 *
 *   await observe({ tracing: true, metrics: { registry } })   ─▶ hooks.current = Observer
 *   observation.close()                                        ─▶ hooks.current = undefined
 */
export interface ObserveOptions {
  /**
   * Spans through @opentelemetry/api, from the global tracer provider (what the OpenTelemetry
   * SDK registers) or the `tracerProvider` given. @default false
   */
  tracing?: boolean | { tracerProvider?: TracerProviderLike };
  /** Prometheus metrics through prom-client, into `registry`. @default none */
  metrics?: MetricsOptions;
}

/** The part of an OpenTelemetry TracerProvider weft uses. */
export interface TracerProviderLike {
  getTracer(name: string, version?: string): unknown;
}

export interface Observation {
  readonly tracing: boolean;
  readonly metrics: boolean;
  /** Stops observing: the hooks are cleared and weft's metrics leave the registry. */
  close(): void;
}

const TRACER_NAME = 'weft';
let active: { observer: Observer; metrics: Metrics | undefined } | undefined;

export async function observe(options: ObserveOptions = {}): Promise<Observation> {
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object with tracing and/or metrics', options));
  const { tracing = false, metrics } = options;
  if (typeof tracing !== 'boolean' && (typeof tracing !== 'object' || tracing === null)) {
    throw new TypeError(expected('tracing', 'a boolean or { tracerProvider }', tracing));
  }
  const provider = typeof tracing === 'object' ? tracing.tracerProvider : undefined;
  if (provider !== undefined && typeof provider?.getTracer !== 'function') {
    throw new TypeError(expected('tracing.tracerProvider', 'an OpenTelemetry TracerProvider', provider));
  }
  if (metrics !== undefined) {
    if (typeof metrics !== 'object' || metrics === null || typeof metrics.registry?.registerMetric !== 'function') {
      throw new TypeError(expected('metrics', '{ registry } with a prom-client Registry (weft never uses the global one unasked)', metrics));
    }
    if (metrics.prefix !== undefined && (typeof metrics.prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metrics.prefix))) {
      throw new TypeError(expected('metrics.prefix', 'a Prometheus metric name prefix such as weft_', metrics.prefix));
    }
  }
  const tracingSide = tracing === false ? undefined : await loadTracing(provider);
  const metricsSide = metrics === undefined ? undefined : new Metrics(await loadOptional<typeof Prom>('prom-client', 'metrics'), metrics);
  closeActive();
  const observer = new Observer(tracingSide, metricsSide);
  active = { observer, metrics: metricsSide };
  hooks.current = observer;
  const mine = active;
  return {
    tracing: tracingSide !== undefined,
    metrics: metricsSide !== undefined,
    close: () => {
      if (active === mine) closeActive();
    },
  };
}

function closeActive(): void {
  active?.metrics?.unregister();
  active = undefined;
  hooks.current = undefined;
}

async function loadTracing(provider: TracerProviderLike | undefined): Promise<Tracing> {
  const api = await loadOptional<typeof Otel>('@opentelemetry/api', 'tracing');
  const tracer = (provider ? provider.getTracer(TRACER_NAME) : api.trace.getTracer(TRACER_NAME)) as Otel.Tracer;
  return new Tracing(api, tracer);
}

async function loadOptional<M>(name: string, feature: string): Promise<M> {
  try {
    return await import(name) as unknown as M;
  } catch (error) {
    throw new Error(`weft ${feature} needs the optional package ${name}: npm install ${name}`, { cause: error });
  }
}
