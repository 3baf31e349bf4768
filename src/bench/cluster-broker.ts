/**
 * The broker-backed cluster as a row of `weft bench cluster --broker URL`: a ClusterExecutor
 * whose queue and results live on the server, with local `weft worker --broker` processes
 * (`localWorkers`, as the embedded row has local workers over loopback), on a fresh queue.
 *
 *   probe the server (a short connect timeout: one that does not answer is a skipped row)
 *   ─▶ ClusterExecutor({ broker, queue, localWorkers, resultTtl: short }) ─▶ rows measured
 *   ─▶ shutdown ─▶ the queue and its dead-letter queue removed (removeQueues); on NATS the
 *      result bucket too when the bench created it (its max age is its creator's)
 *
 * `memory://` runs its workers in this process (a memory broker is one process's); `workers: 0`
 * measures workers started by hand (`weft worker --broker URL --queues Q --tasks …/bench/tasks.js`)
 * on the queue named with `--queue`, which is then left in place.
 */
import { hostname } from 'node:os';
import { openBroker, withoutSettings } from '../broker/open.js';
import { removeQueues } from '../broker/remove-queues.js';
import { BrokerWorker } from '../cluster/durable/broker-worker.js';
import { ClusterExecutor } from '../cluster/cluster-executor.js';
import type { BrokerWorkerInfo } from '../cluster/durable/messages.js';
import { executorContender, type ClusterContender } from './cluster-contender.js';
import { openRedisCpu, type CpuMeter } from './cpu-meter.js';
import { progress } from './harness.js';

export interface BrokerClusterRowOptions {
  /** The row's name, as printed. */
  name: string;
  url: string;
  queue: string;
  /** True when the bench named the queue: it removes it at the end. */
  ownQueue: boolean;
  /** Local broker workers; 0: workers already consuming `queue`. */
  workers: number;
  concurrency: number;
  /** Milliseconds the result backend keeps each outcome. */
  resultTtl: number;
}

/** A server that does not answer within this long is a skipped row. */
const PROBE_TIMEOUT_MS = 3000;
/** How long workers started by hand have to answer the status request. */
const INSPECT_MS = 1000;
/** The NATS result backend's bucket (results/nats.ts) and the stream behind it. */
const NATS_RESULT_STREAM = 'KV_weft-results';

export async function openBrokerClusterRow(o: BrokerClusterRowOptions): Promise<ClusterContender> {
  const probe = await openBroker(o.url, { connectTimeout: PROBE_TIMEOUT_MS });
  await probe.close();
  const scheme = new URL(o.url).protocol;
  const dropBucket = scheme === 'nats:' && !(await natsStreamExists(o.url, NATS_RESULT_STREAM));
  const inProcess: BrokerWorker[] = [];
  const server = /^rediss?:$/.test(scheme) ? await openRedisCpu(withoutSettings(new URL(o.url)).href) : undefined;
  let fleet: BrokerWorkerInfo[] = [];
  const cluster = new ClusterExecutor({
    broker: o.url,
    queue: o.queue,
    resultTtl: o.resultTtl,
    localWorkers: scheme === 'memory:' ? 0 : o.workers,
    localPool: 'green',
    localConcurrency: o.concurrency,
  });
  const close = async () => {
    await cluster.shutdown().catch((error: Error) => progress(`${o.name}: shutdown: ${error.message}`));
    await Promise.all(inProcess.map((worker) => worker.close()));
    if (o.ownQueue) {
      await removeQueues(o.url, [o.queue, `${o.queue}.dead`]).catch((error: Error) => progress(`${o.name}: could not remove the queues: ${error.message}`));
    }
    server?.close();
    if (dropBucket) await dropNatsStream(o.url, NATS_RESULT_STREAM).catch((error: Error) => progress(`${o.name}: could not remove the result bucket: ${error.message}`));
  };
  try {
    if (scheme === 'memory:') {
      for (let i = 0; i < o.workers; i++) {
        inProcess.push(await BrokerWorker.start({
          broker: o.url, queues: [o.queue], tasks: [new URL('./tasks.js', import.meta.url).href],
          pool: 'green', concurrency: o.concurrency, resultTtl: o.resultTtl, name: `bench-${i + 1}`,
        }));
      }
      await Promise.all(inProcess.map((worker) => worker.ready()));
    }
    await cluster.start();
    if (scheme !== 'memory:') {
      // Who consumes the queue: the local workers (their pids, for the CPU figures), or yours.
      fleet = (await cluster.inspect(INSPECT_MS)).filter((w) => w.queues.includes(o.queue));
      if (fleet.length === 0) {
        throw new Error(`no weft worker consumes the queue ${JSON.stringify(o.queue)} (start one with \`weft worker --broker URL --queues ${o.queue} --tasks <weft>/dist/bench/tasks.js\`)`);
      }
      if (o.workers === 0) progress(`${o.name}: ${fleet.length} worker(s) on ${o.queue}: ${fleet.map((w) => `${w.name} (${w.pool} x ${w.capacity})`).join(', ')}`);
    }
  } catch (error) {
    await close();
    throw error;
  }
  const here = hostname();
  const cpu: CpuMeter = {
    // A worker on another host has no /proc here: NaN makes the row's CPU figure unknown.
    // memory://: the workers run in this process. Fewer local workers than started answered:
    // their CPU is unknown, and so is the row's.
    pids: () => scheme === 'memory:' ? [] : [...fleet.map((w) => (w.host === here ? w.pid : NaN)), ...(fleet.length < o.workers ? [NaN] : [])],
    ...(server ? { server: server.seconds } : {}),
  };
  return executorContender(o.name, cluster, cpu, close);
}

async function natsStreamExists(url: string, stream: string): Promise<boolean> {
  const { connect } = await import('nats');
  const nc = await connect({ servers: new URL(url).host, timeout: PROBE_TIMEOUT_MS });
  try {
    const jsm = await nc.jetstreamManager();
    return await jsm.streams.info(stream).then(() => true, () => false);
  } finally {
    await nc.close();
  }
}

async function dropNatsStream(url: string, stream: string): Promise<void> {
  const { connect } = await import('nats');
  const nc = await connect({ servers: new URL(url).host, timeout: PROBE_TIMEOUT_MS });
  try {
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
  } finally {
    await nc.close();
  }
}
