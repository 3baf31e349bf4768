import { checkKnownOptions, checkNonNegativeInteger, checkPositiveInteger, expected } from '../../core/validate.js';
import { defaultResultBackend } from '../../results/open.js';
import { DEFAULT_RESULT_TTL_MS } from '../../results/store.js';
import { POOL_KINDS, type PoolKind } from '../protocol.js';
import { MAX_BATCH } from './messages.js';

/** `new ClusterExecutor({ broker, ... })`: the cluster's queue and results live on a server. */
export interface BrokerClusterOptions {
  /** `redis://…`, `amqp://…`, `nats://…`, `weft://…`, or `memory://NAME` (workers in this process). */
  broker: string;
  /**
   * Where outcomes are kept for `cluster.result(id)` from any process, and so that a task that ran
   * twice settles once: `redis://…`, `nats://…`, `memory://…`, or false for none.
   * @default the broker's server where it can keep results (Redis, NATS, memory); none on RabbitMQ and weft://
   */
  resultBackend?: string | false;
  /** Milliseconds outcomes are kept. @default 86400000 (24 h) */
  resultTtl?: number;
  /** The queue tasks go to unless routed elsewhere. @default 'weft' */
  queue?: string;
  /** Queue by task name or namespace: `{ reports: 'slow' }` sends every `reports.*` task to `slow`. */
  routes?: Record<string, string>;
  /** Tasks this submitter keeps on the broker at once; the rest wait here, by priority. @default Infinity */
  concurrency?: number;
  /** `weft worker --broker` processes to start on this host, loading this process's task modules. @default 0 */
  localWorkers?: number;
  /** @default 'green' */
  localPool?: PoolKind;
  /** @default 1 */
  localConcurrency?: number;
  /** How many failed tasks `deadLetters()` keeps here (the server keeps its own). @default 1000 */
  maxDeadLetters?: number;
  /**
   * Calls submitted in one tick to one queue travel together, up to this many per broker
   * message (each still its own task: id, retries, timeout, result, cancellation). 1 sends
   * each call in a message of its own (for a fleet with workers older than batches: they
   * dead-letter a batch as a body they cannot read). @default 64
   */
  batchSize?: number;
}

export interface DurableSettings {
  broker: string;
  brokerKind: string;
  resultBackend: string | undefined;
  resultTtl: number;
  queue: string;
  routes: Record<string, string>;
  concurrency: number;
  localWorkers: number;
  localPool: PoolKind;
  localConcurrency: number;
  maxDeadLetters: number;
  batchSize: number;
}

export function checkBrokerClusterOptions(o: BrokerClusterOptions): DurableSettings {
  if ('listen' in o) throw new TypeError('ClusterExecutor takes either { listen } (an embedded scheduler) or { broker }, not both');
  checkKnownOptions('ClusterExecutor({ broker })', o, {
    broker: true, resultBackend: true, resultTtl: true, queue: true, routes: true, concurrency: true, localWorkers: true, localPool: true, localConcurrency: true, maxDeadLetters: true, batchSize: true,
  });
  let url: URL;
  try {
    url = new URL(String(o.broker));
  } catch {
    throw new TypeError(expected('broker', 'a broker URL such as redis://127.0.0.1:6379', o.broker));
  }
  const resultBackend = o.resultBackend === false ? undefined : o.resultBackend ?? defaultResultBackend(url)?.href;
  if (resultBackend !== undefined && typeof resultBackend !== 'string') throw new TypeError(expected('resultBackend', 'a URL or false', resultBackend));
  const queue = o.queue ?? 'weft';
  checkQueueName('queue', queue);
  const routes = o.routes ?? {};
  if (typeof routes !== 'object' || routes === null) throw new TypeError(expected('routes', 'an object of task name or namespace to queue', routes));
  for (const [name, target] of Object.entries(routes)) checkQueueName(`routes.${name}`, target);
  const localPool = o.localPool ?? 'green';
  if (!POOL_KINDS.includes(localPool)) throw new TypeError(expected('localPool', POOL_KINDS.join(' | '), localPool));
  return {
    broker: url.href,
    brokerKind: url.protocol.slice(0, -1),
    resultBackend,
    resultTtl: checkPositiveInteger('resultTtl', o.resultTtl ?? DEFAULT_RESULT_TTL_MS),
    queue,
    routes: { ...routes },
    concurrency: checkPositiveInteger('concurrency', o.concurrency ?? Infinity, true),
    localWorkers: checkNonNegativeInteger('localWorkers', o.localWorkers ?? 0),
    localPool,
    localConcurrency: checkPositiveInteger('localConcurrency', o.localConcurrency ?? 1),
    maxDeadLetters: checkNonNegativeInteger('maxDeadLetters', o.maxDeadLetters ?? 1000),
    batchSize: checkPositiveInteger('batchSize', o.batchSize ?? MAX_BATCH),
  };
}

function checkQueueName(name: string, value: unknown): void {
  if (typeof value !== 'string' || value === '' || value.length > 200) throw new TypeError(expected(name, 'a queue name of 1 to 200 characters', value));
}
