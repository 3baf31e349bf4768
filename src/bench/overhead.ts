/**
 * Per-task overhead: `tasks` trivial tasks submitted at once (throughput, tasks/s) and `awaited`
 * tasks awaited one at a time (median round trip). Rows: weft's pools, optionally the peers
 * (--peers), and a bare Worker echoing postMessage as the floor nothing can beat.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Executor } from '../core/executor.js';
import { benchExecutor } from './executors.js';
import { figureChart, rateChart } from './chart-builders.js';
import { measure, reportSpread, summarize, type BenchReport, type Cell, type Goal } from './harness.js';
import benchTasks from './tasks.js';

export interface OverheadOptions {
  tasks: number;
  awaited: number;
  workers: number;
  executors: string[];
  repeats: number;
  warmup: number;
}

export const OVERHEAD_DEFAULTS: OverheadOptions = { tasks: 100_000, awaited: 10_000, workers: 2, executors: ['threads', 'processes'], repeats: 3, warmup: 1 };

interface OverheadRow {
  executor: string;
  tasksPerSecond: number;
  /** The burst's seconds: median, fastest and slowest round. */
  burst: { median: number; min: number; max: number };
  spread: number;
  /** Seconds of each measured burst. */
  samples: number[];
  medianMicros: number;
  p99Micros: number;
}

type Submit = (i: number) => PromiseLike<unknown>;

async function measureSubmit(name: string, submit: Submit, options: OverheadOptions): Promise<OverheadRow> {
  const burst = await measure(async () => {
    const futures = new Array<PromiseLike<unknown>>(options.tasks);
    for (let i = 0; i < options.tasks; i++) futures[i] = submit(i);
    await Promise.all(futures);
  }, { ...options, label: `${name} burst` });
  for (let i = 0; i < Math.min(1000, options.awaited); i++) await submit(i); // warm the awaited path
  const micros = new Array<number>(options.awaited);
  for (let i = 0; i < options.awaited; i++) {
    const start = performance.now();
    await submit(i);
    micros[i] = (performance.now() - start) * 1000;
  }
  micros.sort((a, b) => a - b);
  return {
    executor: name,
    tasksPerSecond: options.tasks / burst.median,
    burst: { median: burst.median, min: burst.min, max: burst.max },
    spread: burst.spread,
    samples: burst.samples,
    medianMicros: summarize(micros).median,
    p99Micros: micros[Math.floor(micros.length * 0.99)]!,
  };
}

/** The floor: a Worker that echoes every message, no pool, no futures. */
async function bareWorker(options: OverheadOptions): Promise<OverheadRow> {
  const worker = new Worker("require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m))", { eval: true });
  let pending = new Map<number, () => void>();
  worker.on('message', (i: number) => { pending.get(i)?.(); pending.delete(i); });
  const submit = (i: number) => new Promise<void>((resolve) => { pending.set(i, resolve); worker.postMessage(i); });
  try {
    return await measureSubmit('bare Worker echo (floor)', submit, options);
  } finally {
    pending = new Map();
    await worker.terminate();
  }
}

export async function benchOverhead(options: OverheadOptions): Promise<BenchReport> {
  const rows: OverheadRow[] = [await bareWorker(options)];
  for (const name of options.executors) {
    const executor: Executor = await benchExecutor(name).create(options.workers);
    try {
      rows.push(await measureSubmit(name, (i) => executor.submit(benchTasks.noop, i), options));
    } finally {
      await executor.shutdown();
    }
  }
  const notes = [`${options.tasks.toLocaleString('en-US')} tasks submitted at once (median of ${options.repeats}); ${options.awaited.toLocaleString('en-US')} awaited one at a time`];
  const goals: Goal[] = [];
  const piscina = rows.find((r) => r.executor === 'piscina');
  for (const row of rows) {
    if (!piscina || (row.executor !== 'threads' && row.executor !== 'processes')) continue;
    const tput = row.tasksPerSecond / piscina.tasksPerSecond;
    const rtt = row.medianMicros / piscina.medianMicros;
    if (row.executor === 'threads') {
      goals.push({ text: `threads / piscina: ${tput.toFixed(2)}x tasks/s (goal: >= 3x)`, met: tput >= 3 });
      goals.push({ text: `threads / piscina: ${rtt.toFixed(2)}x median round trip (goal: <= 1x)`, met: rtt <= 1 });
    } else notes.push(`processes / piscina: ${tput.toFixed(2)}x tasks/s, ${rtt.toFixed(2)}x median round trip`);
  }
  const processes = rows.find((r) => r.executor === 'processes');
  if (processes) goals.push({ text: `processes: ${Math.round(processes.tasksPerSecond).toLocaleString('en-US')} tasks/s (goal: >= 60,000, above Python's Pool(2))`, met: processes.tasksPerSecond >= 60_000 });
  return {
    title: `weft bench overhead: trivial tasks, ${options.workers} workers`,
    header: ['executor', 'tasks/s', 'spread', 'median µs', 'p99 µs'],
    rows: rows.map((r): Cell[] => [r.executor, r.tasksPerSecond, `${(r.spread * 100).toFixed(0)}%`, r.medianMicros, r.p99Micros]),
    notes,
    charts: [
      rateChart(`${options.tasks.toLocaleString('en-US')} trivial tasks submitted at once`, 'tasks/s', options.tasks, rows.map((r) => ({ label: r.executor, rounds: r.burst }))),
      figureChart('awaited one at a time: median round trip', 'µs', false, rows.map((r) => ({ label: r.executor, value: r.medianMicros }))),
    ],
    goals,
    spread: reportSpread(rows),
    data: { benchmark: 'overhead', options, rows },
  };
}
