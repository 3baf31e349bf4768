import type { TlsOptions } from 'node:tls';
import { checkKnownOptions, checkMilliseconds, checkNonNegativeInteger, checkPositiveInteger, expected } from '../core/validate.js';
import { authkeyBytes } from '../remote/handshake.js';
import type { BrokerClusterOptions } from './durable/options.js';
import { POOL_KINDS, type PoolKind } from './protocol.js';
import { checkMetricsEndpoint, type MetricsEndpointOptions } from '../observe/endpoint.js';

/** `new ClusterExecutor({ listen, authkey })`: the scheduler lives in this process; workers connect to it. */
export interface EmbeddedClusterOptions {
  /** Where workers connect. Port 0 picks a free one (then read `cluster.port`). */
  listen: { host?: string; port?: number; tls?: TlsOptions };
  /** Shared secret of the scheduler and its workers (string: UTF-8). */
  authkey: string | Uint8Array;
  /** Worker processes to start on this host, joined over loopback. @default 0 */
  localWorkers?: number;
  /**
   * Pool each local worker runs tasks on. The default, 'green', runs them on the worker's event
   * loop: the fastest for short tasks, but a task that computes longer than `leaseTimeout`
   * without yielding silences the worker's heartbeat; use 'threads' for such tasks.
   * @default 'green'
   */
  localPool?: PoolKind;
  /** Tasks each local worker runs at once. @default 1 */
  localConcurrency?: number;
  /** Local workers also run plain functions shipped as source. @default false */
  allowFunctions?: boolean;
  /** Most tasks running at once in the whole cluster. @default Infinity (what the workers announce) */
  concurrency?: number;
  /** How often workers send a heartbeat, in ms. @default 1000 */
  heartbeatInterval?: number;
  /** A worker silent this long loses its leases; its tasks run elsewhere. @default 10000 */
  leaseTimeout?: number;
  /** How long a task waits when workers are connected but none offers it, before UnknownTaskError. @default 5000 */
  unroutableTimeout?: number;
  /** How often one task may be moved off lost workers before it fails with WorkerCrashedError. @default 10 */
  maxRedeliveries?: number;
  /** How many failed tasks `deadLetters()` keeps (the oldest go first). @default 1000 */
  maxDeadLetters?: number;
  /**
   * Serve this process's Prometheus metrics on `http://HOST:PORT/metrics` once started (loopback
   * by default; needs prom-client). Read the port from `cluster.metricsPort`. @default off
   */
  metrics?: MetricsEndpointOptions;
}

/** Either an embedded scheduler (`listen`) or a broker (`broker`, see BrokerClusterOptions). */
export type ClusterOptions = EmbeddedClusterOptions | BrokerClusterOptions;

export interface ClusterSettings {
  host: string;
  port: number;
  tls: TlsOptions | undefined;
  authkey: Buffer;
  localWorkers: number;
  localPool: PoolKind;
  localConcurrency: number;
  allowFunctions: boolean;
  concurrency: number;
  heartbeatInterval: number;
  leaseTimeout: number;
  unroutableTimeout: number;
  maxRedeliveries: number;
  maxDeadLetters: number;
  metrics: MetricsEndpointOptions | undefined;
}

export function checkClusterOptions(options: unknown): ClusterSettings {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(expected('options', 'an object such as { listen: { port: 0 }, authkey }', options));
  }
  const o = checkKnownOptions('ClusterExecutor({ listen })', options as EmbeddedClusterOptions, {
    listen: true, authkey: true, localWorkers: true, localPool: true, localConcurrency: true, allowFunctions: true, concurrency: true,
    heartbeatInterval: true, leaseTimeout: true, unroutableTimeout: true, maxRedeliveries: true, maxDeadLetters: true, metrics: true,
  });
  if (typeof o.listen !== 'object' || o.listen === null) throw new TypeError(expected('listen', 'an object such as { host, port }', o.listen));
  const host = o.listen.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new TypeError(expected('listen.host', 'a host name or address', host));
  const port = o.listen.port ?? 0;
  checkNonNegativeInteger('listen.port', port);
  if (port > 65535) throw new RangeError(expected('listen.port', 'a port number from 0 to 65535', port));
  const localPool = o.localPool ?? 'green';
  if (!POOL_KINDS.includes(localPool)) throw new TypeError(expected('localPool', POOL_KINDS.join(' | '), localPool));
  const heartbeatInterval = positiveMs('heartbeatInterval', o.heartbeatInterval, 1000);
  const leaseTimeout = positiveMs('leaseTimeout', o.leaseTimeout, 10_000);
  if (leaseTimeout <= heartbeatInterval) {
    throw new RangeError(`Expected \`leaseTimeout\` to be longer than \`heartbeatInterval\` (${heartbeatInterval} ms), got ${leaseTimeout}`);
  }
  return {
    host,
    port,
    tls: o.listen.tls,
    authkey: authkeyBytes(o.authkey),
    localWorkers: o.localWorkers === undefined ? 0 : checkNonNegativeInteger('localWorkers', o.localWorkers),
    localPool,
    localConcurrency: checkPositiveInteger('localConcurrency', o.localConcurrency ?? 1),
    allowFunctions: o.allowFunctions === true,
    concurrency: checkPositiveInteger('concurrency', o.concurrency ?? Infinity, true),
    heartbeatInterval,
    leaseTimeout,
    unroutableTimeout: checkMilliseconds('unroutableTimeout', o.unroutableTimeout ?? 5000),
    maxRedeliveries: checkNonNegativeInteger('maxRedeliveries', o.maxRedeliveries ?? 10),
    maxDeadLetters: checkNonNegativeInteger('maxDeadLetters', o.maxDeadLetters ?? 1000),
    metrics: checkMetricsEndpoint('metrics', o.metrics),
  };
}

function positiveMs(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  checkMilliseconds(name, value);
  if ((value as number) === 0) throw new RangeError(expected(name, 'a positive number of milliseconds', value));
  return value as number;
}
