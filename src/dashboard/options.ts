/** `serveDashboard(options)`: what to show and where to serve it. */
import type { ClusterExecutor } from '../cluster/cluster-executor.js';
import { checkNonNegativeInteger, checkPositiveInteger, expected } from '../core/validate.js';

export interface DashboardOptions {
  /** Serve the dashboard of this cluster (embedded or broker-backed) from this process. */
  cluster?: ClusterExecutor;
  /** Or: the embedded scheduler at `tcp://HOST:PORT` (needs `authkey`). */
  connect?: string;
  /** Or: the broker-backed cluster on this broker (`redis://…`, `amqp://…`, `nats://…`, `weft://…`). */
  broker?: string;
  /**
   * The cluster's authkey: the page's token is derived from it (and `connect` authenticates with
   * it). Without one (broker, cluster) the token is random and changes at every start.
   */
  authkey?: string | Uint8Array;
  /** @default 8080; 0 picks a free port */
  port?: number;
  /** Only this machine can reach the page unless told otherwise. @default '127.0.0.1' */
  host?: string;
  /** Broker: the queues to show, and only the workers consuming one of them. @default the cluster's queues, every queue a worker consumes, every worker */
  queues?: string[];
  /** Milliseconds between reads of the cluster. @default 1000 */
  interval?: number;
}

export interface DashboardSettings {
  target: { cluster: ClusterExecutor } | { connect: string } | { broker: string };
  authkey: string | Uint8Array | undefined;
  port: number;
  host: string;
  queues: string[] | undefined;
  interval: number;
}

export function checkDashboardOptions(options: DashboardOptions): DashboardSettings {
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object with cluster, connect or broker', options));
  const given = (['cluster', 'connect', 'broker'] as const).filter((k) => options[k] !== undefined);
  if (given.length !== 1) throw new TypeError(`serveDashboard takes exactly one of cluster, connect or broker; got ${given.length === 0 ? 'none' : given.join(' and ')}`);
  const { authkey } = options;
  if (authkey !== undefined && !(typeof authkey === 'string' && authkey !== '') && !(authkey instanceof Uint8Array && authkey.length > 0)) {
    throw new TypeError(expected('authkey', 'a non-empty string or Uint8Array', authkey));
  }
  let target: DashboardSettings['target'];
  if (options.cluster !== undefined) {
    if (typeof options.cluster !== 'object' || typeof options.cluster.status !== 'function') throw new TypeError(expected('cluster', 'a ClusterExecutor', options.cluster));
    target = { cluster: options.cluster };
  } else if (options.connect !== undefined) {
    if (typeof options.connect !== 'string' || !options.connect.startsWith('tcp://')) throw new TypeError(expected('connect', 'a tcp://HOST:PORT address', options.connect));
    if (authkey === undefined) throw new TypeError('serveDashboard({ connect }) needs the cluster\'s authkey');
    target = { connect: options.connect };
  } else {
    try {
      new URL(String(options.broker));
    } catch {
      throw new TypeError(expected('broker', 'a broker URL such as redis://127.0.0.1:6379', options.broker));
    }
    target = { broker: String(options.broker) };
  }
  const port = checkNonNegativeInteger('port', options.port ?? 8080);
  if (port > 65535) throw new RangeError(expected('port', 'a port number (0 to 65535)', port));
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new TypeError(expected('host', 'a host name or address', host));
  const queues = options.queues;
  if (queues !== undefined && !(Array.isArray(queues) && queues.length > 0 && queues.every((q) => typeof q === 'string' && q !== ''))) {
    throw new TypeError(expected('queues', 'a non-empty list of queue names', queues));
  }
  return { target, authkey, port, host, queues, interval: checkPositiveInteger('interval', options.interval ?? 1000) };
}
