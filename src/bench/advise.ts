/**
 * `weft bench advise --task FILE#NAME --args JSON`: times a sample of the user's own task on
 * inline, green, threads and processes and says which to use, and why, with the figures.
 *
 *   flags, module, export ──▶ probe (a few calls inline: none may throw) ──▶ sizes in/out
 *        (advise-input.ts: any problem is a usage error before timing)
 *   start every executor, warm the pools (workers import the task module), untimed
 *   round 1..3: inline ──▶ green ──▶ threads ──▶ processes     (advise-sample.ts, one at a time)
 *     │ inline's first round sizes the others' windows (calls in flight)
 *     ▼
 *   advise-verdict.ts: CPU-bound / IO-bound / mixed, the executor and settings ──▶ table + JSON
 *
 * One executor is timed at a time, never two together, so that each gets the machine's cores;
 * the idle ones wait without using any. All are shut down at the end.
 */
import { availableParallelism, loadavg } from 'node:os';
import type { Executor } from '../core/executor.js';
import { InlineExecutor } from '../executors/inline.js';
import { GreenPool } from '../green/green-pool.js';
import { ProcessPool } from '../pools/process-pool.js';
import { ThreadPool } from '../pools/thread-pool.js';
import { probeTask, readAdviseOptions, type AdviseOptions, type Probe } from './advise-input.js';
import { sampleExecutor, type Sample } from './advise-sample.js';
import { advise, formatBytes, formatSeconds, type AdviseExecutor, type AdviseRow } from './advise-verdict.js';
import { progress, type BenchReport, type Cell } from './harness.js';
import type { BenchArgs } from './registry.js';

/** Work a pool's window holds per worker: enough to hide a round trip, little to wait for at the end. */
const POOL_WINDOW_SECONDS = 0.05;
/** Most calls in flight per pool worker (the pool batches deep queues; more adds nothing). */
const MAX_PER_WORKER = 32;
/** CPU the green window may hold at the end of its sample (a green call that computes runs alone). */
const GREEN_WINDOW_CPU_SECONDS = 0.2;

interface Contender {
  executor: AdviseExecutor;
  settings: string;
  create(): Promise<Executor>;
  /** Calls in flight, from what inline's first round measured. */
  window(inline: AdviseRow): number;
  /** Child processes whose CPU counts. */
  pids(executor: Executor): number[];
  /** Calls run untimed before the sample (a pool's workers import the task module). */
  warmup: number;
}

function contenders(options: AdviseOptions, probe: Probe): Contender[] {
  const { workers, concurrency } = options;
  // Inline runs one call at a time whatever is submitted; a window of them spares the sample an
  // await between calls (which would weigh on small calls), within POOL_WINDOW_SECONDS of work.
  const inlineWindow = Math.max(1, Math.min(MAX_PER_WORKER, Math.floor(POOL_WINDOW_SECONDS / probe.seconds)));
  const perWorker = (inline: AdviseRow) => Math.max(1, Math.min(MAX_PER_WORKER, Math.round(POOL_WINDOW_SECONDS * inline.callsPerSecond)));
  return [
    { executor: 'inline', settings: 'InlineExecutor()', create: async () => new InlineExecutor(), window: () => inlineWindow, pids: () => [], warmup: 0 },
    {
      executor: 'green',
      settings: `GreenPool({ size: ${concurrency} })`,
      create: async () => new GreenPool({ size: concurrency }),
      window: (inline) => Math.max(1, Math.min(concurrency, Math.floor(GREEN_WINDOW_CPU_SECONDS / (inline.cpuPerCall ?? 1 / inline.callsPerSecond)))),
      pids: () => [],
      warmup: 0,
    },
    {
      executor: 'threads',
      settings: `ThreadPool({ workers: ${workers} })`,
      create: async () => {
        const pool = new ThreadPool({ workers });
        await pool.start();
        return pool;
      },
      window: (inline) => workers * perWorker(inline),
      pids: () => [],
      warmup: workers,
    },
    {
      executor: 'processes',
      settings: `ProcessPool({ workers: ${workers} })`,
      create: async () => {
        const pool = new ProcessPool({ workers });
        await pool.start();
        return pool;
      },
      window: (inline) => workers * perWorker(inline),
      pids: (pool) => (pool as ProcessPool).stats.workers.map((w) => w.pid).filter((pid): pid is number => pid !== undefined),
      warmup: workers,
    },
  ];
}

/**
 * Each executor's sample is cut into rounds, and a round runs every executor once, in turn:
 * drift on a shared machine (a neighbour waking up) then lands on all of them alike instead of
 * on whichever was being timed (the harness's measureInterleaved does the same).
 */
const ROUNDS = 3;

interface Measured {
  row: AdviseRow;
  /** Every round's sample, in order. */
  samples: Sample[];
  window: number;
  executor?: Executor;
}

function oneLine(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}`.split('\n').join(' ') : String(error);
}

/** Creates the executor and runs its warm-up calls, untimed; a failure is the row's error. */
async function prepare(contender: Contender, options: AdviseOptions): Promise<Measured> {
  const row: AdviseRow = { executor: contender.executor, settings: contender.settings, calls: 0, seconds: 0, callsPerSecond: 0 };
  const measured: Measured = { row, samples: [], window: 1 };
  try {
    measured.executor = await contender.create();
    await Promise.all(Array.from({ length: contender.warmup }, () => measured.executor!.submit(options.task, ...options.args)));
  } catch (error) {
    row.error = oneLine(error);
  }
  return measured;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The row's figures over its rounds: calls/s is the median round's (robust to one disturbed round). */
function summarizeRounds(measured: Measured): void {
  const { row, samples } = measured;
  row.calls = samples.reduce((sum, s) => sum + s.calls, 0);
  row.seconds = samples.reduce((sum, s) => sum + s.seconds, 0);
  const rates = samples.filter((s) => s.calls > 0 && s.seconds > 0).map((s) => s.calls / s.seconds);
  row.callsPerSecond = rates.length ? median(rates) : 0;
  if (row.calls > 0 && samples.every((s) => s.cpu !== undefined)) row.cpuPerCall = samples.reduce((sum, s) => sum + s.cpu!, 0) / row.calls;
  if (row.calls > 0 && samples.every((s) => s.run !== undefined)) row.callerCpuPerCall = samples.reduce((sum, s) => sum + s.run!, 0) / row.calls;
}

/** Inline's CPU over the time it could have run (see advise-sample.ts). */
function onCpuShare(inline: Measured): number {
  const { samples, row } = inline;
  const cpu = (row.cpuPerCall ?? 0) * row.calls;
  if (samples.every((s) => s.runnable !== undefined)) {
    const runnable = samples.reduce((sum, s) => sum + s.runnable!, 0);
    return runnable > 0 ? Math.min(1, cpu / runnable) : 1;
  }
  // No schedstat (not Linux): CPU over wall time, which a busy machine lowers.
  return Math.min(1, cpu / row.seconds);
}

async function measureAll(options: AdviseOptions, probe: Probe): Promise<Measured[]> {
  const list = contenders(options, probe);
  const measured: Measured[] = [];
  try {
    // Every pool is started (and its workers have loaded the task) before any timing.
    for (const contender of list) measured.push(await prepare(contender, options));
    const limits = { items: Math.max(1, Math.ceil(options.items / ROUNDS)), seconds: options.seconds / ROUNDS };
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < list.length; i++) {
        const entry = measured[i]!;
        if (entry.row.error !== undefined || !entry.executor) continue;
        // Windows follow what inline measured in the first round (inline runs first).
        if (round === 0) entry.window = Math.min(limits.items, list[i]!.window(measured[0]!.row));
        const sample = await sampleExecutor(entry.executor, options.task, options.args, { ...limits, window: entry.window }, () => list[i]!.pids(entry.executor!));
        entry.samples.push(sample);
        if (sample.error !== undefined) entry.row.error = sample.error;
        summarizeRounds(entry);
        progress(`advise ${entry.row.executor} round ${round + 1}/${ROUNDS}: ${sample.calls} calls in ${sample.seconds.toFixed(2)} s`);
      }
    }
  } finally {
    await Promise.all(measured.map((m) => m.executor?.shutdown()));
  }
  return measured;
}

/** What prepareAdvise read and probed, for the run that follows with the same values. */
const prepared = new WeakMap<BenchArgs, { options: AdviseOptions; probe: Probe }>();

/**
 * Reads the flags, imports the module and probes the task before any executor starts: `weft
 * bench` calls it first, so bad input is a usage error (exit 2) and nothing is timed.
 */
export async function prepareAdvise(args: BenchArgs): Promise<{ options: AdviseOptions; probe: Probe }> {
  let ready = prepared.get(args);
  if (ready === undefined) {
    const options = await readAdviseOptions(args);
    ready = { options, probe: await probeTask(options) };
    prepared.set(args, ready);
  }
  return ready;
}

export async function benchAdvise(args: BenchArgs): Promise<BenchReport> {
  const { options, probe } = await prepareAdvise(args);
  const loadBefore = loadavg()[0]!;
  const measured = await measureAll(options, probe);
  const inline = measured[0]!;
  // The probe ran the task inline, so an inline failure here is the task's own (it failed later).
  if (inline.row.error !== undefined || inline.row.calls === 0) throw new Error(`${options.spec} failed inline during the sample: ${inline.row.error ?? 'no call finished'}`);
  const loadAfter = loadavg()[0]!;
  const share = onCpuShare(inline);
  const rows = measured.map((m) => m.row);
  const cores = availableParallelism();
  const advice = advise({ rows, onCpuShare: share, bytesIn: probe.bytesIn, bytesOut: probe.bytesOut, cores, workers: options.workers, loadAverage: loadAfter });
  return report(options, probe, measured, { advice, onCpuShare: share, cores, loadAverage: { before: loadBefore, after: loadAfter } });
}

interface Outcome {
  advice: ReturnType<typeof advise>;
  onCpuShare: number;
  cores: number;
  loadAverage: { before: number; after: number };
}

/** The slowest and fastest rounds' calls/s (the chart's whiskers). */
function rateRange(measured: Measured): { min: number; max: number } {
  const rates = measured.samples.filter((s) => s.seconds > 0).map((s) => s.calls / s.seconds);
  return { min: Math.min(...rates), max: Math.max(...rates) };
}

function report(options: AdviseOptions, probe: Probe, measured: Measured[], outcome: Outcome): BenchReport {
  const { advice } = outcome;
  const inline = measured[0]!.row;
  const speedup = (row: AdviseRow) => (row.error === undefined ? row.callsPerSecond / inline.callsPerSecond : undefined);
  const bytesOut = probe.bytesOut === undefined ? 'not copyable' : formatBytes(probe.bytesOut);
  const count = (n: number) => n.toLocaleString('en-US');
  const rows: Cell[][] = measured.map(({ row, window }) => [
    row.executor,
    row.settings,
    count(window),
    count(row.calls),
    row.error === undefined ? row.callsPerSecond : 'failed',
    speedup(row) === undefined ? undefined : `${speedup(row)!.toFixed(2)}x`,
    row.cpuPerCall === undefined ? undefined : formatSeconds(row.cpuPerCall),
    formatBytes(probe.bytesIn),
    bytesOut,
  ]);
  const argsText = JSON.stringify(options.args);
  const ok = measured.filter((m) => m.row.error === undefined && m.row.callsPerSecond > 0);
  const green = measured.find((m) => m.row.executor === 'green');
  const greenShort = advice.executor === 'green' && green !== undefined && green.window < options.concurrency;
  const notes = [
    `advice: ${advice.text}`,
    ...advice.notes,
    ...(greenShort ? [`green was timed with at most ${green.window} calls in flight (a round's share of --items ${options.items}), fewer than its size ${options.concurrency}: more --items measure the full size`] : []),
    `sample: ${options.task.taskName}(${argsText.slice(1, -1)}) on each executor for up to ${options.seconds} s or ${options.items} calls, whichever came first ` +
      `(then the calls in flight finished), in ${ROUNDS} rounds that take the executors in turn; calls/s is the median round's`,
    "CPU/call counts this process's threads and the pool's child processes; bytes are V8-serialised (what postMessage copies); " +
      `load average ${outcome.loadAverage.before.toFixed(1)} before, ${outcome.loadAverage.after.toFixed(1)} after, on ${outcome.cores} cores`,
  ];
  if (probe.resultProblem) notes.push(`the result cannot be sent back from a worker (${probe.resultProblem}): only inline and green can run this task as it is`);
  const data = {
    mode: 'advise',
    task: options.spec,
    taskName: options.task.taskName,
    args: options.args,
    sample: { items: options.items, seconds: options.seconds, workers: options.workers, concurrency: options.concurrency },
    kind: advice.kind,
    onCpuShare: outcome.onCpuShare,
    callSeconds: 1 / inline.callsPerSecond,
    bytesIn: probe.bytesIn,
    bytesOut: probe.bytesOut ?? null,
    advice: { executor: advice.executor, settings: advice.settings, text: advice.text, notes: advice.notes },
    rows: measured.map(({ row, window, samples }) => ({
      executor: row.executor,
      settings: row.settings,
      window,
      calls: row.calls,
      seconds: row.seconds,
      callsPerSecond: row.error === undefined ? row.callsPerSecond : null,
      speedup: speedup(row) ?? null,
      cpuPerCallMs: row.cpuPerCall === undefined ? null : row.cpuPerCall * 1e3,
      callerCpuPerCallMs: row.callerCpuPerCall === undefined ? null : row.callerCpuPerCall * 1e3,
      rounds: samples.map((s) => ({ calls: s.calls, seconds: s.seconds })),
      error: row.error ?? null,
    })),
    cores: outcome.cores,
    loadAverage: outcome.loadAverage,
  };
  return {
    title: `weft bench advise: ${options.spec} ${argsText}`,
    header: ['executor', 'settings', 'in flight', 'calls', 'calls/s', 'vs inline', 'CPU/call', 'bytes in', 'bytes out'],
    rows,
    notes,
    charts: [{
      title: `calls/s of ${options.task.taskName} per executor`,
      unit: 'calls/s',
      higherIsBetter: true,
      bars: ok.map((m) => ({ label: m.row.executor, value: m.row.callsPerSecond, ...rateRange(m) })),
    }],
    spread: Math.max(0, ...ok.map((m) => { const { min, max } = rateRange(m); return (max - min) / m.row.callsPerSecond; })),
    data,
  };
}
