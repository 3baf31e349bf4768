/**
 * `weft bench cluster`: the cluster against ThreadPool in the same run, both with `workers`
 * workers (the cluster's are local worker processes joined over loopback), started before any
 * timing:
 *   - trivial tasks submitted at once: tasks per second;
 *   - awaited round trips, one task at a time: median and p90 microseconds;
 *   - the articles' Celery comparison: pi as a `group` of `tasks` tasks of `samples` points,
 *     against a plain loop doing the same work (speedup).
 * The loop and the executors take turns within each repeat, so a noisy neighbour hurts all alike.
 * Goals (issue 5): >= 50,000 tasks/s; median round trip <= 150 µs; pi group >= 1.6x the loop.
 */
import { randomBytes } from 'node:crypto';
import { ClusterExecutor } from '../cluster/cluster-executor.js';
import type { Executor } from '../core/executor.js';
import { group, sig } from '../core/workflows.js';
import { ThreadPool } from '../pools/thread-pool.js';
import { progress, summarize, type BenchReport, type Cell } from './harness.js';
import benchTasks, { monteCarloLoop } from './tasks.js';

export interface ClusterBenchOptions {
  workers: number;
  /** Trivial tasks per throughput run. */
  trivial: number;
  /** Awaited round trips per latency run. */
  calls: number;
  /** pi: tasks in the group and samples per task. */
  tasks: number;
  samples: number;
  repeats: number;
}

export const CLUSTER_DEFAULTS: ClusterBenchOptions = { workers: 2, trivial: 100_000, calls: 3000, tasks: 3000, samples: 4000, repeats: 3 };

interface Row {
  executor: string;
  tasksPerSecond: number;
  rttMedianUs: number;
  rttP90Us: number;
  piSeconds: number;
  piSpeedup: number;
}

async function throughput(executor: Executor, n: number): Promise<number> {
  const start = performance.now();
  const futures = new Array(n);
  for (let i = 0; i < n; i++) futures[i] = executor.submit(benchTasks.noop, i);
  await Promise.all(futures);
  return n / ((performance.now() - start) / 1000);
}

async function roundTrips(executor: Executor, n: number): Promise<number[]> {
  const micros: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await executor.submit(benchTasks.noop, i);
    micros[i] = (performance.now() - start) * 1000;
  }
  return micros.sort((a, b) => a - b);
}

async function piGroup(executor: Executor, tasks: number, samples: number): Promise<number> {
  const start = performance.now();
  const hits = await group(Array.from({ length: tasks }, () => sig(benchTasks.monteCarlo, samples))).run(executor);
  if (hits.length !== tasks) throw new Error(`the pi group returned ${hits.length} results for ${tasks} tasks`);
  return (performance.now() - start) / 1000;
}

export async function benchCluster(options: ClusterBenchOptions): Promise<BenchReport> {
  const { workers, tasks, samples } = options;
  const executors: [string, Executor][] = [
    [`ThreadPool(${workers})`, new ThreadPool({ workers })],
    [`cluster (${workers} local workers)`, new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey: randomBytes(16), localWorkers: workers })],
  ];
  try {
    for (const [, executor] of executors) {
      await (executor as ThreadPool | ClusterExecutor).start();
      await throughput(executor, 5000); // warm the JIT on both sides
      await roundTrips(executor, 500);
    }
    const plainLoop = () => {
      const start = performance.now();
      if (monteCarloLoop(tasks, samples) <= 0) throw new Error('no hits');
      return (performance.now() - start) / 1000;
    };
    plainLoop(); // warm-up
    const loopSeconds: number[] = [];
    const perExecutor = executors.map(() => ({ tput: [] as number[], rtt: [] as number[], pi: [] as number[] }));
    for (let r = 0; r < options.repeats; r++) {
      loopSeconds.push(plainLoop()); // in the same turn as the executors, so they share the machine's mood
      for (let e = 0; e < executors.length; e++) {
        const [name, executor] = executors[e]!;
        const acc = perExecutor[e]!;
        acc.tput.push(await throughput(executor, options.trivial));
        acc.rtt.push(...await roundTrips(executor, options.calls));
        acc.pi.push(await piGroup(executor, tasks, samples));
        progress(`${name} run ${r + 1}: ${Math.round(acc.tput.at(-1)!)} tasks/s, pi group ${acc.pi.at(-1)!.toFixed(3)} s`);
      }
    }
    const loop = summarize(loopSeconds);
    const rows: Row[] = executors.map(([name], e) => {
      const acc = perExecutor[e]!;
      const rtt = acc.rtt.sort((a, b) => a - b);
      const pi = summarize(acc.pi).median;
      return {
        executor: name,
        tasksPerSecond: summarize(acc.tput).median,
        rttMedianUs: rtt[rtt.length >> 1]!,
        rttP90Us: rtt[Math.floor(rtt.length * 0.9)]!,
        piSeconds: pi,
        piSpeedup: loop.median / pi,
      };
    });
    const [pool, cluster] = rows as [Row, Row];
    return {
      title: `weft bench cluster: ${workers} workers; ${options.trivial} trivial tasks, ${options.calls} awaited calls, pi group of ${tasks} x ${samples}`,
      header: ['executor', 'tasks/s', 'rtt median µs', 'rtt p90 µs', 'pi group s', 'pi speedup'],
      rows: [
        ['plain loop (pi)', undefined, undefined, undefined, loop.median, '1.00x'],
        ...rows.map((r): Cell[] => [r.executor, r.tasksPerSecond, r.rttMedianUs, r.rttP90Us, r.piSeconds, `${r.piSpeedup.toFixed(2)}x`]),
      ],
      notes: [
        `cluster / ThreadPool: throughput ${(cluster.tasksPerSecond / pool.tasksPerSecond).toFixed(2)}x, round trip ${(cluster.rttMedianUs / pool.rttMedianUs).toFixed(2)}x, pi group ${(cluster.piSpeedup / pool.piSpeedup).toFixed(2)}x`,
        `goals: cluster >= 50,000 tasks/s (${cluster.tasksPerSecond >= 50_000 ? 'met' : 'NOT met'}), median round trip <= 150 µs (${cluster.rttMedianUs <= 150 ? 'met' : 'NOT met'}), pi group >= 1.6x the loop (${cluster.piSpeedup >= 1.6 ? 'met' : 'NOT met'}); workers started before timing`,
      ],
      data: { benchmark: 'cluster', options, loopSeconds: loop.median, rows },
    };
  } finally {
    for (const [, executor] of executors) await executor.shutdown();
  }
}
