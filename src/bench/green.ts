/**
 * One million concurrently pending green tasks, each awaiting a 10 ms timer, against a bare
 * Promise.all of the same million async calls. Each run is a fresh child process, so peak RSS
 * (maxRSS) belongs to that run alone; the modes alternate so that drift on a shared machine
 * hits both alike. The CPU time of each run (main thread and GC helpers) is reported beside the
 * wall time: on a loaded machine it moves less, since it leaves out the time spent waiting for a core.
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { GreenPool } from '../green/green-pool.js';
import { joinAll } from '../green/join-all.js';
import { roundsChart } from './chart-builders.js';
import { progressSteps, reportSpread, summarize, type BenchReport, type Goal } from './harness.js';

export interface GreenOptions {
  tasks: number;
  delay: number;
  repeats: number;
}

export const GREEN_DEFAULTS: GreenOptions = { tasks: 1_000_000, delay: 10, repeats: 3 };

type Mode = 'bare' | 'green' | 'green-sync';
const MODES: Mode[] = ['bare', 'green', 'green-sync'];

interface ChildResult {
  mode: Mode;
  seconds: number;
  /** User + system CPU of the whole run, every thread (the GC's helpers too). */
  cpuSeconds: number;
  maxRssMb: number;
  completed: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs inside the child: one mode, one measurement, JSON on stdout. */
export async function runGreenChild(mode: Mode, tasks: number, delay: number): Promise<void> {
  const task = async () => {
    await sleep(delay);
    return 1;
  };
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  let completed = 0;
  if (mode === 'bare') {
    const promises = new Array<Promise<number>>(tasks);
    for (let i = 0; i < tasks; i++) promises[i] = task();
    completed = (await Promise.all(promises)).length;
  } else {
    const pool = new GreenPool({ size: Infinity, asyncContext: mode === 'green' });
    const futures = new Array(tasks);
    for (let i = 0; i < tasks; i++) futures[i] = pool.spawn(task);
    completed = (await joinAll(futures)).filter((f) => f.state === 'done').length;
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const result: ChildResult = { mode, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMb: process.resourceUsage().maxRSS / 1024, completed };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

export async function benchGreen(options: GreenOptions): Promise<BenchReport> {
  const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const results: Record<Mode, ChildResult[]> = { bare: [], green: [], 'green-sync': [] };
  const steps = progressSteps(options.repeats * MODES.length);
  for (let i = 0; i < options.repeats; i++) {
    for (const mode of MODES) {
      steps.running(mode, `run ${i + 1}/${options.repeats}`);
      const child = spawnSync(process.execPath, ['--max-old-space-size=8192', cli, 'bench', 'green', '--child', mode,
        '--tasks', String(options.tasks), '--delay', String(options.delay)], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`the ${mode} run failed (exit ${child.status}): ${child.stderr}`);
      const result = JSON.parse(child.stdout.trim().split('\n').pop()!) as ChildResult;
      if (result.completed !== options.tasks) throw new Error(`the ${mode} run completed ${result.completed} of ${options.tasks} tasks`);
      results[mode].push(result);
      steps.finished(mode, `run ${i + 1}/${options.repeats}`, `${result.seconds.toFixed(2)} s (CPU ${result.cpuSeconds.toFixed(2)} s), peak RSS ${result.maxRssMb.toFixed(0)} MB`);
    }
  }
  steps.end();
  const rows = MODES.map((mode) => {
    const seconds = summarize(results[mode].map((r) => r.seconds));
    const cpu = summarize(results[mode].map((r) => r.cpuSeconds));
    const rss = summarize(results[mode].map((r) => r.maxRssMb));
    return { mode, seconds, cpu, rss };
  });
  const bare = rows[0]!;
  const ratios = rows.map((r) => ({ mode: r.mode, time: r.seconds.median / bare.seconds.median, cpu: r.cpu.median / bare.cpu.median, memory: r.rss.median / bare.rss.median }));
  const labels: Record<Mode, string> = {
    bare: 'Promise.all (bare)',
    green: 'GreenPool.spawn + joinAll',
    'green-sync': 'the same, asyncContext: false',
  };
  return {
    title: `weft bench green: ${options.tasks.toLocaleString('en-US')} pending tasks, each awaiting a ${options.delay} ms timer, on Node ${process.version} (median of ${options.repeats} runs, a fresh process each)`,
    header: ['mode', 'seconds', 'spread', 'CPU s', 'peak RSS MB', 'time vs bare', 'CPU vs bare', 'memory vs bare'],
    rows: rows.map((r, i) => [labels[r.mode], r.seconds.median, `${(r.seconds.spread * 100).toFixed(0)}%`, r.cpu.median, r.rss.median,
      `${ratios[i]!.time.toFixed(2)}x`, `${ratios[i]!.cpu.toFixed(2)}x`, `${ratios[i]!.memory.toFixed(2)}x`]),
    notes: [
      'asyncContext: false keeps taskContext() to the synchronous part of each task; the default costs one async context frame per task where AsyncLocalStorage uses AsyncContextFrame (Node 24), and something on every promise where it uses async hooks (Node 20)',
      'CPU s counts every thread of the run (the GC helpers too); under load it moves less than the wall time, which the goal is about',
    ],
    charts: [
      roundsChart('time until all have finished', 's', false, rows.map((r) => ({ label: labels[r.mode], rounds: r.seconds }))),
      roundsChart('peak RSS', 'MB', false, rows.map((r) => ({ label: labels[r.mode], rounds: r.rss }))),
    ],
    goals: ratios.filter((r) => r.mode !== 'bare').flatMap((r): Goal[] => [
      { text: `${labels[r.mode]}: ${r.time.toFixed(2)}x the time of the bare Promise.all (goal: within 1.5x)`, met: r.time <= 1.5 },
      { text: `${labels[r.mode]}: ${r.memory.toFixed(2)}x its peak RSS (goal: within 1.5x)`, met: r.memory <= 1.5 },
    ]),
    spread: reportSpread(MODES.map((mode) => results[mode].map((r) => r.seconds))),
    data: { benchmark: 'green', options, rows, ratios, runs: results },
  };
}
