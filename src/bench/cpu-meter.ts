/**
 * CPU time spent on a row's work, for `weft bench cluster`: on a shared machine tasks per second
 * say how many CPU slices a row got, CPU per task says what it costs whoever runs it. Read from
 * this process (all its threads), from worker processes by pid (/proc on Linux: other systems
 * report none), and from a Redis server (`INFO cpu`, which counts every client of the server).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second in /proc/<pid>/stat (USER_HZ: 100 on every Linux port in use). */
const USER_HZ = 100;

export interface CpuSample {
  /** CPU seconds of this process and of the row's worker processes. */
  clients: number;
  /** CPU seconds of the server, where it tells (Redis). */
  server?: number;
}

export interface CpuMeter {
  /** The worker processes' pids, asked each time (workers may be restarted). */
  pids(): number[];
  /** Redis: the server's CPU seconds so far. */
  server?(): Promise<number>;
}

/** Seconds of CPU `pid` has used, or undefined where /proc cannot tell (not Linux, gone). */
export function procSeconds(pid: number): number | undefined {
  try {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ; // utime, stime
  } catch {
    return undefined;
  }
}

/**
 * Seconds of CPU the calling thread has used (Linux: /proc/thread-self/schedstat, in ns), or
 * undefined elsewhere. process.cpuUsage() counts every thread of the process, V8's GC helpers
 * included; this is the one thread a single-threaded loop runs on.
 */
export function threadSeconds(): number | undefined {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e9;
  } catch {
    return undefined;
  }
}

/** This process's child processes now (Linux /proc: their parent pid), [] where /proc cannot tell. */
export function childPids(): number[] {
  const children: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return children;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** Undefined when a worker's CPU cannot be read: a partial figure would flatter the row. */
export async function sampleCpu(meter: CpuMeter): Promise<CpuSample | undefined> {
  const own = process.cpuUsage();
  let clients = (own.user + own.system) / 1e6;
  for (const pid of meter.pids()) {
    if (pid === process.pid) continue;
    const seconds = Number.isInteger(pid) ? procSeconds(pid) : undefined;
    if (seconds === undefined) return undefined;
    clients += seconds;
  }
  const server = meter.server ? await meter.server().catch(() => undefined) : undefined;
  return server === undefined ? { clients } : { clients, server };
}

/** What a run cost per task, in µs, from samples before and after it. */
export function perTask(before: CpuSample | undefined, after: CpuSample | undefined, tasks: number): CpuSample | undefined {
  if (!before || !after) return undefined;
  const clients = ((after.clients - before.clients) * 1e6) / tasks;
  if (before.server === undefined || after.server === undefined) return { clients };
  return { clients, server: ((after.server - before.server) * 1e6) / tasks };
}

/** A connection that reads a Redis server's CPU seconds so far (user + system: `INFO cpu`). */
export async function openRedisCpu(target: string | Record<string, unknown>): Promise<{ seconds(): Promise<number>; close(): void }> {
  const { Redis } = await import('ioredis');
  const options = { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 1 };
  const redis = typeof target === 'string' ? new Redis(target, options) : new Redis({ ...target, ...options });
  redis.on('error', () => {});
  await redis.connect();
  return { seconds: async () => redisServerSeconds(await redis.info('cpu')), close: () => redis.disconnect() };
}

function redisServerSeconds(text: string): number {
  const read = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1]);
  const seconds = read('used_cpu_user') + read('used_cpu_sys');
  if (!Number.isFinite(seconds)) throw new Error('the Redis server did not report used_cpu_user and used_cpu_sys');
  return seconds;
}
