/**
 * BullMQ on the same Redis as weft's broker-backed cluster, for `weft bench cluster --broker
 * redis://… --peers`: a Queue in this process, worker processes (bullmq-worker.js) with the
 * same concurrency as weft's, and QueueEvents to hear completions, which is how BullMQ's users
 * wait for jobs from another process.
 *
 *   trivial(n) ─▶ queue.addBulk(n noop jobs) ─▶ workers ─▶ events stream ─▶ QueueEvents
 *                 'completed' (each return value checked against its job's data) ─▶ done at n
 *   call(i)    ─▶ queue.add ─▶ job.waitUntilFinished(queueEvents)
 *   piGroup    ─▶ addBulk(tasks pi jobs) ─▶ their return values, as for trivial
 *
 * The queue is fresh (a random name) and obliterated at the end, keys and events included.
 * bullmq is a devDependency, loaded only when this row is asked for.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Queue, QueueEvents } from 'bullmq';
import { checkNoop, WrongResultError, type ClusterContender } from './cluster-contender.js';
import { openRedisCpu } from './cpu-meter.js';

export interface BullmqPeerOptions {
  /** The row's name, as printed. */
  name: string;
  /** redis://[user:password@]host:port[/db] */
  url: string;
  queue: string;
  workers: number;
  concurrency: number;
  /** How long a worker may take to say it is ready. */
  startTimeoutMs?: number;
}

const WORKER = fileURLToPath(new URL('./bullmq-worker.js', import.meta.url));
/** BullMQ's key prefix for the bench's queue (its default is `bull`). */
const PREFIX = 'bull';
/**
 * Each job adds about four entries to the events stream (added/waiting/active/completed); the
 * default cap of 10,000 would trim entries a busy QueueEvents has not read yet. The stream goes
 * with the queue when it is obliterated.
 */
const EVENTS_MAX_LEN = 2_000_000;
/** A run gives up once no job has completed for this long (and says how many did). */
const STALL_MS = 15_000;

/** ioredis settings from a redis:// URL (BullMQ takes no URL). */
export function redisConnection(url: string): Record<string, unknown> {
  const parsed = new URL(url);
  const db = Number(parsed.pathname.slice(1) || 0);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: Number(parsed.port || 6379),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** A server that does not answer within this long makes a skipped row (BullMQ itself would wait for it). */
const PROBE_TIMEOUT_MS = 3000;

async function probe(connection: Record<string, unknown>): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis({ ...connection, connectTimeout: PROBE_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  let cause: Error | undefined;
  redis.on('error', (error: Error) => { cause ??= error; });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`could not reach Redis at ${String(connection.host)}:${String(connection.port)}: ${(cause ?? error as Error).message}`);
  } finally {
    redis.disconnect();
  }
}

export async function openBullmqPeer(options: BullmqPeerOptions): Promise<ClusterContender> {
  const connection = redisConnection(options.url);
  await probe(connection);
  const { Queue, QueueEvents } = await import('bullmq');
  const name = options.name;
  const queue: Queue = new Queue(options.queue, {
    connection: { ...connection, connectTimeout: 3000 },
    prefix: PREFIX,
    streams: { events: { maxLen: EVENTS_MAX_LEN } },
  });
  const events: QueueEvents = new QueueEvents(options.queue, { connection: { ...connection, maxRetriesPerRequest: null }, prefix: PREFIX });
  const children: ChildProcess[] = [];
  /** Completions the current run waits for, by job id. */
  const waiting = new Map<string, (value: unknown) => void>();
  let failed: ((reason: Error) => void) | undefined;
  let heard: (() => void) | undefined;
  events.on('completed', ({ jobId, returnvalue }) => {
    const settle = waiting.get(jobId);
    if (!settle) return;
    waiting.delete(jobId);
    settle(returnvalue);
    heard?.();
  });
  events.on('failed', ({ jobId, failedReason }) => {
    if (waiting.has(jobId)) failed?.(new Error(`${name}: job ${jobId} failed: ${failedReason}`));
  });
  // The connection errors of a server that is not there: reported by waitUntilReady below.
  queue.on('error', () => {});
  events.on('error', () => {});

  const serverCpu = await openRedisCpu(connection);
  const close = async () => {
    serverCpu.close();
    await Promise.all(children.map(stopChild));
    await queue.obliterate({ force: true }).catch(() => {});
    await events.close().catch(() => {});
    await queue.close().catch(() => {});
  };

  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const config = JSON.stringify({ queue: options.queue, connection, concurrency: options.concurrency, prefix: PREFIX });
    for (let i = 0; i < options.workers; i++) children.push(fork(WORKER, [], { env: { ...process.env, WEFT_BULLMQ_WORKER: config }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    await Promise.all(children.map((child) => ready(child, options.startTimeoutMs ?? 10_000)));
  } catch (error) {
    await close();
    throw error;
  }

  let runs = 0;
  /** Adds the jobs, then resolves with their return values in order once all completed. */
  async function runJobs(jobs: { name: string; data: number }[]): Promise<unknown[]> {
    const values = new Array<unknown>(jobs.length);
    let left = jobs.length;
    let stall: ReturnType<typeof setTimeout> | undefined;
    const done = new Promise<void>((resolve, reject) => {
      failed = reject;
      const rearm = () => {
        clearTimeout(stall);
        stall = setTimeout(() => reject(new Error(`${name}: ${left} of ${jobs.length} jobs had not completed after ${STALL_MS / 1000} s without a completion`)), STALL_MS);
      };
      heard = () => (left === 0 ? resolve() : rearm());
      rearm();
    });
    done.catch(() => {}); // awaited below, after addBulk: a failure meanwhile is not unhandled
    // Ids chosen here, and listened for before the jobs exist: a fast worker's completion may
    // arrive before addBulk's answer does.
    const run = ++runs;
    const bulk = jobs.map((job, index) => {
      const jobId = `r${run}.${index}`;
      waiting.set(jobId, (value) => { values[index] = value; left--; });
      return { ...job, opts: { jobId } };
    });
    try {
      await queue.addBulk(bulk);
      if (left === 0) heard?.();
      await done;
    } finally {
      clearTimeout(stall);
      failed = heard = undefined;
      waiting.clear();
    }
    return values;
  }

  return {
    name,
    cpu: {
      pids: () => children.map((child) => child.pid ?? NaN),
      server: () => serverCpu.seconds(),
    },
    async trivial(n) {
      const values = await runJobs(Array.from({ length: n }, (_, i) => ({ name: 'noop', data: i })));
      for (let i = 0; i < n; i++) checkNoop(name, i, values[i]);
    },
    async call(i) {
      const job = await queue.add('noop', i);
      checkNoop(name, i, await job.waitUntilFinished(events));
    },
    async piGroup(tasks, samples) {
      const values = await runJobs(Array.from({ length: tasks }, () => ({ name: 'pi', data: samples })));
      return values.map((v) => {
        if (typeof v !== 'number') throw new WrongResultError(`${name}: a pi job returned ${JSON.stringify(v)}`);
        return v;
      });
    },
    close,
  };
}

function ready(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`a BullMQ worker did not become ready within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: unknown) => {
      if ((message as { weft?: unknown })?.weft === 'ready') done();
    };
    const onExit = (code: number | null) => done(new Error(`a BullMQ worker exited with code ${code} before it was ready`));
    const done = (error?: Error) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
