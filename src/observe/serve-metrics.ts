import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expected } from '../core/validate.js';
import { logger } from '../log.js';

/**
 * `GET /metrics` for Prometheus, from the Registry given (prom-client's text format). Binds to
 * loopback unless a host is given: metrics name tasks and queues, which are not for everyone.
 */
export interface ServeMetricsOptions {
  /** 0 picks a free port (read it from `server.port`). @default 9464 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
}

export interface MetricsServer {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

/** Anything with prom-client's Registry surface used here. */
interface RegistryLike {
  metrics(): Promise<string> | string;
  readonly contentType: string;
}

/** OpenTelemetry's Prometheus exporter uses 9464; weft takes the same default. */
const DEFAULT_PORT = 9464;

export async function serveMetrics(registry: RegistryLike, options: ServeMetricsOptions = {}): Promise<MetricsServer> {
  if (typeof registry !== 'object' || registry === null || typeof registry.metrics !== 'function') {
    throw new TypeError(expected('registry', 'a prom-client Registry', registry));
  }
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(expected('port', 'an integer from 0 to 65535', port));
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new TypeError(expected('host', 'a host name or address', host));
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('weft serves GET /metrics only\n');
      return;
    }
    Promise.resolve(registry.metrics()).then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: Error) => {
        logger().warn('metrics could not be collected', { error });
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    host,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}
