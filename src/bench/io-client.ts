/**
 * One row of `weft bench io` in a process of its own: the client (an executor, or a bare
 * http.Agent / fetch with p-limit) that makes the row's requests. A process per row keeps each
 * row's RSS and CPU its own, and keeps one row's machinery (say, async context tracking) off
 * another's event loop. Every body is checked here against the one its URL must get.
 *
 *   benchmark ──fork(config)──▶ io-client ──ready──▶ benchmark
 *   benchmark ──run──▶ io-client: URLs ──row's client──▶ server ──▶ check bodies
 *   benchmark ◀──done { checked, latencies, cpu, peak RSS }── io-client
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Executor } from '../core/executor.js';
import { ClusterExecutor } from '../cluster/cluster-executor.js';
import { InlineExecutor } from '../executors/inline.js';
import { GreenPool } from '../green/green-pool.js';
import { ProcessPool } from '../pools/process-pool.js';
import { ThreadPool } from '../pools/thread-pool.js';
import { meterRun, type RunCost } from './io-meter.js';
import { ioBody, ioUrl, type IoServer, startInlineIoServer } from './io-server.js';
import ioTasks, { keepAliveAgent, timedFetch, timedGet, type Fetched } from './io-tasks.js';

export const IO_ROW_KINDS = ['inline', 'green', 'threads', 'processes', 'cluster', 'agent', 'fetch'] as const;
export type IoRowKind = (typeof IO_ROW_KINDS)[number];

export interface IoClientConfig {
  kind: IoRowKind;
  /** The server's origin; undefined: start one in this process (`--server inline`). */
  origin: string | undefined;
  latency: number;
  requests: number;
  concurrency: number;
  workers: number;
}

export type IoClientMessage =
  | { type: 'ready' }
  /** seconds: the run as timed here, without the IPC, the checks and the collection after it. */
  | ({ type: 'done'; seconds: number; checked: number; latencies: number[] } & RunCost)
  | { type: 'error'; message: string };

/** A row's client: makes every request of a run, in the order of `urls`. */
interface RowClient {
  fetchAll(urls: string[]): Promise<Fetched[]>;
  workerPids(): number[];
  close(): Promise<void>;
}

/** `items` cut into `parts` runs of consecutive items, as even as they go. */
export function splitEvenly<T>(items: T[], parts: number): T[][] {
  const count = Math.min(parts, items.length);
  return Array.from({ length: count }, (_, i) => items.slice(Math.floor((items.length * i) / count), Math.floor((items.length * (i + 1)) / count)));
}

async function withPLimit(concurrency: number): Promise<<R>(fn: () => Promise<R>) => Promise<R>> {
  try {
    const { default: pLimit } = await import('p-limit');
    return pLimit(concurrency);
  } catch {
    throw new Error('the bare http.Agent and fetch rows need p-limit: npm install p-limit');
  }
}

/** What a user would write on each executor; the bare clients are what they would write without weft. */
async function rowClient(config: IoClientConfig): Promise<RowClient> {
  const { kind, concurrency, workers } = config;
  const onExecutor = (executor: Executor, pids: () => number[] = () => []): RowClient => ({
    // One task per URL: the executor keeps `concurrency` of them in flight.
    fetchAll: (urls) => executor.map(ioTasks.fetchTimed, urls),
    workerPids: pids,
    close: () => executor.shutdown(),
  });
  const onPool = (pool: ThreadPool | ProcessPool): RowClient => ({
    // A pool worker runs one task at a time: one task per worker, each with its share of the
    // concurrency, fetching its share of the URLs.
    fetchAll: async (urls) => {
      const perWorker = Math.ceil(concurrency / workers);
      const parts = await pool.starmap(ioTasks.fetchBatch, splitEvenly(urls, workers).map((part) => [part, perWorker] as [string[], number]));
      return parts.flat();
    },
    workerPids: () => pool.stats.workers.map((w) => w.pid).filter((pid): pid is number => pid !== undefined && pid !== process.pid),
    close: () => pool.shutdown(),
  });
  switch (kind) {
    case 'inline':
      return onExecutor(new InlineExecutor());
    case 'green':
      return onExecutor(new GreenPool({ size: concurrency }));
    case 'threads': {
      const pool = new ThreadPool({ workers });
      await pool.start();
      return onPool(pool);
    }
    case 'processes': {
      const pool = new ProcessPool({ workers });
      await pool.start();
      return onPool(pool);
    }
    case 'cluster': {
      const cluster = new ClusterExecutor({
        listen: { host: '127.0.0.1', port: 0 },
        authkey: randomBytes(16),
        localWorkers: workers,
        localConcurrency: Math.ceil(concurrency / workers),
      });
      await cluster.start();
      return onExecutor(cluster, () => cluster.workers().map((w) => w.pid));
    }
    case 'agent': {
      const limit = await withPLimit(concurrency);
      const agent = keepAliveAgent();
      return {
        fetchAll: (urls) => Promise.all(urls.map((url) => limit(() => timedGet(agent, url)))),
        workerPids: () => [],
        close: async () => agent.destroy(),
      };
    }
    case 'fetch': {
      const limit = await withPLimit(concurrency);
      return {
        fetchAll: (urls) => Promise.all(urls.map((url) => limit(() => timedFetch(url)))),
        workerPids: () => [],
        close: async () => {},
      };
    }
  }
}

/** Fails on the first request whose body is not the one its URL must get. */
function checkBodies(fetched: Fetched[], count: number): number {
  if (fetched.length !== count) throw new Error(`expected ${count} responses, got ${fetched.length}`);
  for (let i = 0; i < count; i++) {
    const got = fetched[i]?.body;
    if (got !== ioBody(i)) throw new Error(`request ${i} got the wrong body: ${JSON.stringify(got)}`);
  }
  return count;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as IoClientConfig;
  const send = (message: IoClientMessage) => process.send!(message);
  let server: IoServer | undefined;
  let client: RowClient | undefined;
  try {
    server = config.origin === undefined ? await startInlineIoServer(config.latency) : undefined;
    const origin = config.origin ?? server!.origin;
    const urls = Array.from({ length: config.requests }, (_, i) => ioUrl(origin, i));
    client = await rowClient(config);
    const ready = client;
    process.on('message', (message: { type: string }) => {
      if (message.type !== 'run') return;
      const finish = meterRun(ready.workerPids());
      const start = performance.now();
      ready.fetchAll(urls).then(
        (fetched) => {
          const seconds = (performance.now() - start) / 1000;
          const cost = finish();
          const checked = checkBodies(fetched, urls.length);
          send({ type: 'done', seconds, checked, latencies: fetched.map((f) => f.ms), ...cost });
        },
        (error: unknown) => send({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
      ).catch((error: unknown) => send({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
    });
    process.on('disconnect', () => {
      void Promise.resolve(ready.close()).finally(() => server?.close()).finally(() => process.exit(0));
    });
    send({ type: 'ready' });
  } catch (error) {
    send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    await client?.close().catch(() => {});
    await server?.close();
    process.disconnect();
  }
}

if (process.send) void main();
