/**
 * The articles' Monte Carlo pi (calcPi(3000, 4000)): `tasks` tasks of `samples` random points
 * each, on every executor side by side, against a plain JavaScript loop doing the same work.
 */
import type { Executor } from '../core/executor.js';
import { COLLECTION_EXECUTORS, collectionRow, collectionVerdicts, piBag } from './collection-rows.js';
import { benchExecutor, settleExecutor } from './executors.js';
import { secondsChart, speedupChart, type TimedRow } from './chart-builders.js';
import { measureInterleaved, percent, reportSpread, type BenchReport, type Cell, type Contender, type Goal, type Measurement } from './harness.js';
import { StaticSplit } from './static-split.js';
import piTasks, { monteCarloLoop } from './tasks.js';

export interface PiOptions {
  tasks: number;
  samples: number;
  workers: number;
  executors: string[];
  repeats: number;
  warmup: number;
  /** A `collection (…)` row beside threads and the cluster, when they run. @default true */
  collections?: boolean;
}

const STATIC_SPLIT = 'static split';

// Nine rounds: on a shared 2-core machine the median of three moved by 10% between runs.
export const PI_DEFAULTS: PiOptions = { tasks: 3000, samples: 4000, workers: 2, executors: ['inline', 'green', 'threads', 'threads-cold', 'processes'], repeats: 9, warmup: 1 };

interface PiRow {
  executor: string;
  workers: number;
  seconds: number;
  /** The fastest and the slowest round's seconds. */
  min: number;
  max: number;
  spread: number;
  samplesPerSecond: number;
  speedup: number;
  efficiency: number;
  pi: number;
}

export async function benchPi(options: PiOptions): Promise<BenchReport> {
  const { tasks, samples } = options;
  const total = tasks * samples;
  const toPi = (hits: number) => (4 * hits) / total;
  const measured: Omit<PiRow, 'speedup' | 'efficiency'>[] = [];
  let measurements: Measurement<number>[] = [];

  const plainLoop = () => monteCarloLoop(tasks, samples);
  const inputs = new Array<number>(tasks).fill(samples);
  const executors: { name: string; workers: number; executor: Executor }[] = [];
  // Next to the pools: plain Workers given equal shares once, the floor of their dispatch.
  const split = options.executors.includes('threads') ? await StaticSplit.start(options.workers) : undefined;
  try {
    for (const name of options.executors) {
      const spec = benchExecutor(name);
      executors.push({ name, workers: spec.parallel ? options.workers : 1, executor: await spec.create(options.workers) });
    }
    const contenders: (Contender<number> & { workers: number })[] = [
      { name: 'plain loop', workers: 1, run: plainLoop },
      ...(split ? [{ name: STATIC_SPLIT, workers: options.workers, run: () => split.run(tasks, samples) }] : []),
      ...executors.map(({ name, workers, executor }) => ({ name, workers, run: async () => sum(await executor.map(piTasks.monteCarlo, inputs)), after: () => settleExecutor(executor) })),
      // The same sum written as a collection (map, then reduce with add), beside the rows above.
      ...executors.filter(({ name }) => options.collections !== false && COLLECTION_EXECUTORS.includes(name)).map(({ name, workers, executor }) => ({ name: collectionRow(name), workers, run: () => piBag(inputs, executor) })),
    ];
    const results = await measureInterleaved(contenders, options);
    measurements = results;
    results.forEach((result, i) => {
      measured.push({ executor: contenders[i]!.name, workers: contenders[i]!.workers, seconds: result.median, min: result.min, max: result.max, spread: result.spread, samplesPerSecond: total / result.median, pi: toPi(result.value) });
    });
  } finally {
    await Promise.all(executors.map(({ executor }) => executor.shutdown()));
    await split?.close();
  }

  // Against the plain loop, never against inline: "sequential" means no executor at all.
  const base = measured[0]!;
  const rows: PiRow[] = measured.map((r) => ({ ...r, speedup: base.seconds / r.seconds, efficiency: base.seconds / r.seconds / r.workers }));
  const notes = [`speedup and efficiency are against ${base.executor}; spread is (max - min) / median over ${options.repeats} rounds, each running every row once in turn, the first row rotating`];
  const goals: Goal[] = [];
  const inline = rows.find((r) => r.executor === 'inline');
  if (inline) {
    const overhead = inline.seconds / rows[0]!.seconds;
    goals.push({ text: `inline / plain loop: ${overhead.toFixed(3)}x (goal: at most 1.10x, the executor adds nothing measurable)`, met: overhead <= 1.1 });
  }
  const warm = rows.find((r) => r.executor === 'threads');
  const cold = rows.find((r) => r.executor === 'threads-cold');
  const speedupGoal = options.tasks >= 3000 && options.samples >= 4000 ? 1.8 : 1.6;
  if (warm) goals.push({ text: `threads: ${warm.speedup.toFixed(2)}x sequential (goal: >= ${speedupGoal}x)`, met: warm.speedup >= speedupGoal });
  const floor = rows.find((r) => r.executor === STATIC_SPLIT);
  if (warm && floor) notes.push(`threads / ${STATIC_SPLIT}: ${(floor.seconds / warm.seconds).toFixed(2)}x its speed (the pool's dispatch against none; the split's own ${floor.speedup.toFixed(2)}x is what this machine gives two workers now)`);
  const collections = collectionVerdicts(rows, { text: 'goal: within 1.10x; bag(inputs) in its default 16 partitions', met: (vsHand) => vsHand <= 1.1 });
  notes.push(...collections.notes);
  goals.push(...collections.goals);
  // Cold: from `new ThreadPool()` to the map's result (its shutdown is not timed).
  if (warm && cold) goals.push({ text: `threads-cold - threads (a new pool to its result): ${(cold.seconds - warm.seconds).toFixed(3)} s (goal: within 0.05 s)`, met: cold.seconds - warm.seconds <= 0.05 });
  return {
    title: `weft bench pi: ${tasks} tasks x ${samples} samples (${(total / 1e6).toFixed(1)} M samples), ${options.workers} workers`,
    header: ['executor', 'workers', 'seconds', 'spread', 'samples/s', 'speedup', 'efficiency', 'pi'],
    rows: rows.map((r): Cell[] => [r.executor, String(r.workers), r.seconds, percent(r.spread), r.samplesPerSecond, `${r.speedup.toFixed(2)}x`, percent(r.efficiency), r.pi.toFixed(5)]),
    notes,
    charts: piCharts(rows, options.workers),
    goals,
    spread: reportSpread(measurements),
    data: { benchmark: 'pi', options, rows },
  };
}

function piCharts(rows: PiRow[], workers: number) {
  const timed = rows.map((r): TimedRow => ({ label: r.executor, rounds: { median: r.seconds, min: r.min, max: r.max } }));
  return [secondsChart('seconds per run', timed), speedupChart(`speedup over the ${timed[0]!.label}`, timed[0]!, timed, workers)];
}

function sum(values: number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
