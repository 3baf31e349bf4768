/**
 * The Kafka adapter's client library (kafkajs, an optional peer dependency loaded on first use),
 * its settings read from the URL, and the shape of the errors it throws.
 */
import type { Kafka, KafkaConfig, LogEntry, RetryOptions } from 'kafkajs';
import { expected } from '../../core/validate.js';
import { missingOr } from '../../peers/load.js';
import type { TransportOptions } from '../transport.js';

export type KafkaJs = typeof import('kafkajs');

/** kafkajs, or an error that says how to install it. */
export async function loadKafkaJs(): Promise<KafkaJs> {
  try {
    return await import('kafkajs');
  } catch (error) {
    throw missingOr(error, 'kafkajs', 'kafka:// broker URLs');
  }
}

/** What the adapter reads from a `kafka://` URL, besides openBroker's own settings. */
export interface KafkaSettings {
  /** Bootstrap servers: the URL's host, then `?brokers=host:port,...`. */
  brokers: string[];
  /** A requeued message whose attempt would exceed this goes to the dead-letter topic instead. `?maxAttempts=`; default unlimited. */
  maxAttempts: number;
  /** Partitions of the topics weft creates (`?partitions=`); undefined: the server's default (`num.partitions`). */
  partitions: number | undefined;
  /** The largest body weft sends (`?maxPayload=`): Kafka's default `message.max.bytes` is 1 MiB, headers included. */
  maxPayload: number;
  /** Milliseconds: the consumer group session timeout (= redeliverAfter). */
  sessionTimeout: number;
  /** Milliseconds between heartbeats (a third of the session timeout). */
  heartbeatInterval: number;
  connectTimeout: number;
}

const QUERY = ['brokers', 'maxAttempts', 'partitions', 'maxPayload'];
const DEFAULT_MAX_PAYLOAD = 1_000_000;
/**
 * How long a fetch waits at the server for records. Kafka answers as soon as records come, so
 * this only bounds how often an idle consumer asks (and heartbeats: kafkajs heartbeats between
 * fetches). librdkafka's mock cluster always waits this long on an empty partition: it is a
 * floor on the mock's latency.
 */
export const FETCH_WAIT_MS = 100;

export function kafkaSettings(url: URL, options: TransportOptions): KafkaSettings {
  if (url.username || url.password) {
    throw new TypeError(expected('url', 'a kafka:// URL without credentials (SASL is not supported by weft\'s Kafka adapter yet)', url.href.replace(/:[^:@/]*@/, ':***@')));
  }
  for (const name of url.searchParams.keys()) {
    if (!QUERY.includes(name)) throw new TypeError(expected('url', `a kafka:// URL whose query has only ${QUERY.join(', ')}, redeliverAfter, connectTimeout`, `?${name}=`));
  }
  const extra = url.searchParams.get('brokers')?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
  const brokers = [...(url.host ? [url.host] : []), ...extra];
  if (brokers.length === 0) brokers.push('127.0.0.1:9092');
  const sessionTimeout = options.redeliverAfter;
  return {
    brokers,
    maxAttempts: positive(url, 'maxAttempts') ?? Infinity,
    partitions: positive(url, 'partitions'),
    maxPayload: positive(url, 'maxPayload') ?? DEFAULT_MAX_PAYLOAD,
    sessionTimeout,
    heartbeatInterval: Math.max(1, Math.floor(sessionTimeout / 3)),
    connectTimeout: options.connectTimeout,
  };
}

function positive(url: URL, name: string): number | undefined {
  const text = url.searchParams.get(name);
  if (text === null) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(expected(`${name} (in the URL)`, 'a positive integer', text));
  return value;
}

/** Bounded retries: a server gone for good ends in onLost within seconds, not kafkajs's default half minute. */
export const RETRY: RetryOptions = { initialRetryTime: 100, maxRetryTime: 1000, retries: 5 };

export function createKafka(kafkajs: KafkaJs, settings: KafkaSettings, clientId: string): Kafka {
  const config: KafkaConfig = {
    clientId: `weft-${clientId}`,
    brokers: settings.brokers,
    connectionTimeout: settings.connectTimeout,
    retry: RETRY,
    ...kafkaLogging(kafkajs),
  };
  return new kafkajs.Kafka(config);
}

/**
 * kafkajs logs to stdout by default, much of it routine (rebalances, retries). Nothing is logged
 * unless WEFT_KAFKA_LOG is `error`, `warn`, `info` or `debug`: then those entries become
 * process warnings (code WEFT_KAFKA), on stderr.
 */
function kafkaLogging(kafkajs: KafkaJs): Pick<KafkaConfig, 'logLevel' | 'logCreator'> {
  const levels: Record<string, number> = { error: kafkajs.logLevel.ERROR, warn: kafkajs.logLevel.WARN, info: kafkajs.logLevel.INFO, debug: kafkajs.logLevel.DEBUG };
  const level = levels[(process.env.WEFT_KAFKA_LOG ?? '').toLowerCase()] ?? kafkajs.logLevel.NOTHING;
  return {
    logLevel: level,
    logCreator: () => ({ label, namespace, log }: LogEntry) => {
      const { message, timestamp: _timestamp, ...extra } = log;
      const details = Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : '';
      process.emitWarning(`kafkajs ${label} [${namespace}] ${message}${details}`, { code: 'WEFT_KAFKA' });
    },
  };
}

const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSBrokerNotFound', 'KafkaJSNoBrokerAvailableError',
  'KafkaJSRequestTimeoutError',
]);

/** True when `error`, or what caused it, says the cluster cannot be reached. */
export function isConnectionError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 10; e = e.cause ?? (e as { originalError?: unknown }).originalError, depth++) {
    if (CONNECTION_ERRORS.has(e.name)) return true;
    const code = (e as { code?: unknown }).code;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE') return true;
  }
  return false;
}

/** kafkajs's protocol error type (`TOPIC_ALREADY_EXISTS`, `UNKNOWN_TOPIC_OR_PARTITION`, ...), if any, anywhere in the causes. */
export function kafkaErrorType(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string') return type;
  }
  return undefined;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
