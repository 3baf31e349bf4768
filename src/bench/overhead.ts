/**
 * Per-task overhead: `tasks` trivial tasks submitted at once (throughput, tasks/s) and `awaited`
 * tasks awaited one at a time (median round trip). Rows: weft's pools, optionally the peers
 * (--peers), and a bare Worker echoing postMessage as the floor nothing can beat. All rows are
 * started first, then taken in rounds whose first row rotates (measureRows).
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Executor } from '../core/executor.js';
import { benchExecutor } from './executors.js';
import { figureChart, rateChart } from './chart-builders.js';
import { measureInterleaved, progressSteps, roundOrder, reportSpread, summarize, type BenchReport, type Cell, type Goal } from './harness.js';
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

/** Awaited calls per row per round. */
const AWAITED_SLICE = 100;

interface Contestant {
  name: string;
  submit: Submit;
  close(): Promise<void>;
}

/** The floor: a Worker that echoes every message, no pool, no futures. */
function bareWorker(): Contestant {
  const worker = new Worker("require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m))", { eval: true });
  let pending = new Map<number, () => void>();
  worker.on('message', (i: number) => { pending.get(i)?.(); pending.delete(i); });
  return {
    name: 'bare Worker echo (floor)',
    submit: (i) => new Promise<void>((resolve) => { pending.set(i, resolve); worker.postMessage(i); }),
    close: async () => {
      pending = new Map();
      await worker.terminate();
    },
  };
}

/**
 * Every row is started before any timing, then measured in rounds (harness.ts's round order):
 * first the bursts, then the awaited calls, AWAITED_SLICE of them per row per round. A
 * row measured alone, after the others, would have its figure at the mercy of whatever the
 * machine was doing during its few seconds: the threads / Piscina round-trip ratio swung from
 * 0.28x to 2.08x between runs that way. The bursts come first because a burst leaves garbage
 * that the next row's awaited calls would pay to collect.
 */
async function measureRows(contestants: Contestant[], options: OverheadOptions): Promise<OverheadRow[]> {
  const bursts = await measureInterleaved(contestants.map(({ name, submit }) => ({
    name: `${name} burst`,
    run: async () => {
      const futures = new Array<PromiseLike<unknown>>(options.tasks);
      for (let i = 0; i < options.tasks; i++) futures[i] = submit(i);
      await Promise.all(futures);
    },
  })), options);
  const micros = contestants.map(() => [] as number[]);
  // Short slices, many rounds: a round trip's median moves with whatever else the cores are
  // doing that second, so each row gets a little of every second rather than a stretch of its own.
  const rounds = Math.max(options.repeats, Math.ceil(options.awaited / AWAITED_SLICE));
  const perRound = Math.ceil(options.awaited / rounds);
  const steps = progressSteps(rounds + 1);
  try {
    for (let round = -1; round < rounds; round++) {
      const detail = round < 0 ? 'warm-up' : `round ${round + 1}/${rounds}`;
      steps.running('awaited calls', detail);
      // The last round takes what is left, so that exactly `awaited` calls are timed per row.
      const calls = round < 0 ? Math.min(1000, options.awaited) : Math.min(perRound, options.awaited - round * perRound);
      for (const c of roundOrder(contestants.length, round + 1)) {
        const { submit } = contestants[c]!;
        for (let i = 0; i < calls; i++) {
          const start = performance.now();
          await submit(i);
          if (round >= 0) micros[c]!.push((performance.now() - start) * 1000);
        }
      }
      steps.finished('awaited calls', detail);
    }
  } finally {
    steps.end();
  }
  return contestants.map(({ name }, c) => {
    const burst = bursts[c]!;
    const sorted = micros[c]!.sort((a, b) => a - b);
    return {
      executor: name,
      tasksPerSecond: options.tasks / burst.median,
      burst: { median: burst.median, min: burst.min, max: burst.max },
      spread: burst.spread,
      samples: burst.samples,
      medianMicros: summarize(sorted).median,
      p99Micros: sorted[Math.floor(sorted.length * 0.99)]!,
    };
  });
}

export async function benchOverhead(options: OverheadOptions): Promise<BenchReport> {
  const contestants: Contestant[] = [bareWorker()];
  let rows: OverheadRow[];
  try {
    for (const name of options.executors) {
      const executor: Executor = await benchExecutor(name).create(options.workers);
      contestants.push({ name, submit: (i) => executor.submit(benchTasks.noop, i), close: () => executor.shutdown() });
    }
    rows = await measureRows(contestants, options);
  } finally {
    for (const contestant of contestants) await contestant.close();
  }
  const notes = [`${options.tasks.toLocaleString('en-US')} tasks submitted at once (median of ${options.repeats}); ${options.awaited.toLocaleString('en-US')} awaited one at a time; rows taken in rounds, the first row rotating (bursts: ${options.repeats} round${options.repeats === 1 ? '' : 's'}; awaited: ${AWAITED_SLICE} calls a row a round)`];
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
