import type * as Prom from 'prom-client';
import { expected } from '../core/validate.js';
import type { RegistryLike } from './options.js';
import { observe } from './observe.js';
import { serveMetrics } from './serve-metrics.js';

/**
 * Metrics of this process on `http://HOST:PORT/metrics` in one step, for `weft worker
 * --metrics-port N` and `ClusterExecutor({ metrics: { port } })`: turns metrics on (in the
 * registry given, or a fresh one: never prom-client's global registry) and serves them.
 */
export interface MetricsEndpointOptions {
  /** 0 picks a free port. @default 9464 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** @default a new prom-client Registry */
  registry?: RegistryLike;
}

export interface MetricsEndpoint {
  readonly port: number;
  readonly host: string;
  readonly registry: RegistryLike;
  close(): Promise<void>;
}

export function checkMetricsEndpoint(name: string, value: unknown): MetricsEndpointOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new TypeError(expected(name, 'an object such as { port: 9464 }', value));
  const { port, host } = value as MetricsEndpointOptions;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new TypeError(expected(`${name}.port`, 'an integer from 0 to 65535', port));
  if (host !== undefined && (typeof host !== 'string' || host === '')) throw new TypeError(expected(`${name}.host`, 'a host name or address', host));
  return value as MetricsEndpointOptions;
}

export async function exposeMetrics(options: MetricsEndpointOptions = {}): Promise<MetricsEndpoint> {
  const registry = options.registry ?? new (await import('prom-client') as unknown as typeof Prom).Registry();
  const observation = await observe({ metrics: { registry } });
  try {
    const server = await serveMetrics(registry, { port: options.port, host: options.host });
    return {
      port: server.port,
      host: server.host,
      registry,
      close: async () => {
        observation.close();
        await server.close();
      },
    };
  } catch (error) {
    observation.close();
    throw error;
  }
}
