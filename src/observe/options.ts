/**
 * The public option types of metrics, apart from metrics.ts so that weft's declarations name no
 * optional package: a user without prom-client still compiles against them.
 */
export interface MetricsOptions {
  /** A prom-client `Registry`: weft's metrics are registered there. */
  registry: RegistryLike;
  /** Prepended to every metric name. @default 'weft_' */
  prefix?: string;
  /** Histogram buckets for task and rpc durations and queue waits, in seconds. @default 0.0005 … 60 */
  buckets?: number[];
}

/** The part of prom-client's Registry weft relies on (structural, so weft's types need no prom-client). */
export interface RegistryLike {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
  metrics(): Promise<string>;
  readonly contentType: string;
}
