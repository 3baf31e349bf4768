/**
 * The benchmark harness every `weft bench` mode shares: warm-up runs that are thrown away,
 * repeated measured runs, the median (robust to a noisy neighbour on a shared machine) and the
 * spread, and a plain-text table. Benchmarks compare rows measured in the same run; absolute
 * times on a shared machine mean little, ratios between rows mean a lot.
 */
import { performance } from 'node:perf_hooks';
import { benchProgress, formatSeconds } from './progress.js';
import { noiseFooter, noiseWarning, verdictLine, type Noise } from './verdict.js';

export interface MeasureOptions {
  /** Runs before measuring, to warm the JIT and start pools. @default 1 */
  warmup?: number;
  /** Measured runs. @default 3 */
  repeats?: number;
  /** Called after each measured run with its index and seconds. */
  onRun?: (index: number, seconds: number) => void;
  /** The row's name in the progress line (`threads burst`); unnamed measurements show none. */
  label?: string;
}

export interface Measurement<V = unknown> {
  /** Seconds of each measured run, in run order. */
  samples: number[];
  median: number;
  min: number;
  max: number;
  /** (max - min) / median: how much the runs disagreed. */
  spread: number;
  /** What the last run returned (to check the work was really done). */
  value: V;
  /** With a RoundMeter: what it read over each measured run, in run order (undefined where it could not). */
  metered?: (number[] | undefined)[];
}

/**
 * Reads counters around each timed run of measureInterleaved (CPU seconds, say): `start()` just
 * before the clock starts, `stop(started)` just after it stops, so reading them is not timed.
 * `stop` returns what was used over the run, or undefined where it cannot tell.
 */
export interface RoundMeter<S = unknown> {
  start(): S;
  stop(started: S): number[] | undefined;
}

export async function measure<V>(run: () => V | Promise<V>, options: MeasureOptions = {}): Promise<Measurement<V>> {
  const { warmup = 1, repeats = 3, label } = options;
  const task = label === undefined ? undefined : benchProgress().task(warmup + repeats);
  try {
    for (let i = 0; i < warmup; i++) {
      task?.running(label!, 'warm-up');
      await run();
      task?.finished(label!, 'warm-up');
    }
    const samples: number[] = [];
    let value!: V;
    for (let i = 0; i < repeats; i++) {
      task?.running(label!, `run ${i + 1}/${repeats}`);
      const start = performance.now();
      value = await run();
      const seconds = (performance.now() - start) / 1000;
      samples.push(seconds);
      task?.finished(label!, `run ${i + 1}/${repeats}`, `${seconds.toFixed(3)} s`);
      options.onRun?.(i, seconds);
    }
    return { samples, value, ...summarize(samples) };
  } finally {
    task?.end();
  }
}

export interface Contender<V> {
  name: string;
  run(): V | Promise<V>;
  /** Untimed, after the clock stops and before the next row runs: what `run` left to finish (a cold pool's shutdown). */
  after?(): unknown;
}

/**
 * The order the rows run in during round `round` (0-based): every row once, the first one
 * rotating (round 0 starts with row 0, round 1 with row 1, ...). Whatever a round's start does
 * to the row timed first (the previous round's garbage being collected, a pool waking from
 * idle) then lands on each row in turn instead of always on the first one listed.
 */
export function roundOrder(rows: number, round: number): number[] {
  const first = rows > 0 ? round % rows : 0;
  return Array.from({ length: rows }, (_, i) => (first + i) % rows);
}

/**
 * Runs `step(row, round)` for every row in every round, the rows in roundOrder: the loop every
 * mode that times several rows uses, so that drift on a shared machine (a neighbour waking up,
 * the JIT settling) lands on all rows alike instead of on whichever was being timed during it.
 * Rounds below 0 are warm-ups: `rounds` counts only the measured ones.
 */
export async function inRounds(rows: number, { warmup = 0, rounds }: { warmup?: number; rounds: number }, step: (row: number, round: number) => Promise<void>): Promise<void> {
  for (let round = -warmup; round < rounds; round++) {
    for (const row of roundOrder(rows, round + warmup)) await step(row, round);
  }
}

/**
 * Measures several contenders in rounds (inRounds): each round runs every contender once, the
 * first one rotating; warm-up rounds are taken the same way and thrown away.
 */
export async function measureInterleaved<V, S = unknown>(contenders: Contender<V>[], options: MeasureOptions & { meter?: RoundMeter<S> } = {}): Promise<Measurement<V>[]> {
  const { warmup = 1, repeats = 3, meter } = options;
  const task = benchProgress().task(contenders.length * (warmup + repeats));
  try {
    const samples = contenders.map(() => [] as number[]);
    const metered = contenders.map(() => [] as (number[] | undefined)[]);
    const values = new Array<V>(contenders.length);
    await inRounds(contenders.length, { warmup, rounds: repeats }, async (c, round) => {
      const contender = contenders[c]!;
      const step = round < 0 ? 'warm-up' : `run ${round + 1}/${repeats}`;
      task.running(contender.name, step);
      const started = meter?.start();
      const start = performance.now();
      const value = await contender.run();
      const seconds = (performance.now() - start) / 1000;
      const used = meter?.stop(started as S);
      await contender.after?.();
      if (round >= 0) {
        values[c] = value;
        samples[c]!.push(seconds);
        metered[c]!.push(used);
      }
      task.finished(contender.name, step, round < 0 ? undefined : `${seconds.toFixed(3)} s`);
    });
    return contenders.map((_, c) => ({ samples: samples[c]!, value: values[c]!, ...summarize(samples[c]!), ...(meter ? { metered: metered[c]! } : {}) }));
  } finally {
    task.end();
  }
}

export function summarize(samples: number[]): { median: number; min: number; max: number; spread: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  return { median, min, max, spread: median > 0 ? (max - min) / median : 0 };
}

export type Cell = string | number | undefined;

/** A left-aligned first column, right-aligned numbers, two spaces between columns. */
export function formatTable(header: string[], rows: Cell[][]): string {
  const text = rows.map((row) => row.map(formatCell));
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...text.map(line)].join('\n');
}

function formatCell(cell: Cell): string {
  if (cell === undefined) return '-';
  if (typeof cell === 'string') return cell;
  if (!Number.isFinite(cell)) return String(cell);
  const abs = Math.abs(cell);
  if (abs >= 1000) return Math.round(cell).toLocaleString('en-US');
  if (abs >= 100) return cell.toFixed(0);
  if (abs >= 10) return cell.toFixed(1);
  if (abs >= 1) return cell.toFixed(2);
  return cell.toFixed(3);
}

export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(0)}%`;
}

/** A free-form event of a long run (a row skipped, a server started), shown as progress.ts says. */
export function progress(message: string): void {
  benchProgress().note(message);
}

/**
 * Progress for a loop the mode counts itself (rounds of a child process, a broker's runs):
 * `steps.running(row, 'run 2/3')` before a step, `steps.finished(row, 'run 2/3', figure)` after.
 */
export function progressSteps(total: number) {
  return benchProgress().task(total);
}

/**
 * The spread a report gives for the noise verdict: the largest among measurements of more than
 * one round (one round has no spread to judge).
 */
export function reportSpread(measurements: Iterable<{ samples: number[]; spread: number } | number[]>): number | undefined {
  let largest: number | undefined;
  for (const m of measurements) {
    const samples = Array.isArray(m) ? m : m.samples;
    if (samples.length < 2) continue;
    const spread = Array.isArray(m) ? summarize(m).spread : m.spread;
    if (Number.isFinite(spread)) largest = Math.max(largest ?? 0, spread);
  }
  return largest;
}

/** A goal a benchmark checks (e.g. threads >= 1.8x sequential): its line, and whether it was met. */
export interface Goal {
  /** The measured figure against the goal, e.g. "threads: 1.62x sequential (goal: >= 1.8x)". */
  text: string;
  met: boolean;
}

/** One bar of a report chart: the headline figure of a table row and its spread over the rounds. */
export interface ChartBar {
  label: string;
  value: number;
  /** The fastest and slowest rounds, in the same unit as value (whiskers). */
  min?: number;
  max?: number;
  /** A peer library (Piscina, BullMQ...), drawn in another colour. */
  peer?: boolean;
}

/** What the HTML report draws for a table: its headline figure per row. */
export interface Chart {
  title: string;
  /** e.g. "s", "tasks/s", "requests/s", "x sequential". */
  unit: string;
  higherIsBetter: boolean;
  bars: ChartBar[];
  /** A reference line, e.g. the ideal speedup (the worker count) on a speedup chart. */
  ideal?: { value: number; label: string };
}

/** What every benchmark returns: a table for people and the same figures for machines. */
export interface BenchReport {
  title: string;
  header: string[];
  rows: Cell[][];
  /** Lines printed under the table: ratios, caveats (not goals: those are in goals). */
  notes: string[];
  /** Goals checked by this run, printed with an ok / MISSED verdict. */
  goals?: Goal[];
  /** Charts for the HTML report. */
  charts?: Chart[];
  /** The largest spread ((max - min) / median) among the rows' measurements, to flag a noisy run. */
  spread?: number;
  /** Machine-readable figures, printed by --json. */
  data: unknown;
}

/**
 * The report as people read it: a noisy run's warning on top, the title, the table, the notes,
 * a verdict per goal, and how far to trust the figures.
 */
export function formatReport(report: BenchReport, { noise, color = false, seconds }: ReportOptions = {}): string {
  const parts: string[] = [];
  const warning = noise && noiseWarning(noise, color);
  if (warning) parts.push(warning);
  parts.push(report.title, formatTable(report.header, report.rows));
  if (report.notes.length) parts.push(report.notes.join('\n'));
  if (report.goals?.length) parts.push(report.goals.map((goal) => verdictLine(goal, color)).join('\n'));
  if (noise) parts.push(`${noiseFooter(noise)}${seconds === undefined ? '' : `; ran ${formatSeconds(seconds)}`}`);
  return `\n${parts.join('\n\n')}`;
}

export interface ReportOptions {
  /** The noise verdict (bench.ts judges it from report.spread and the load average). */
  noise?: Noise;
  /** Green ok, red MISSED and warning. */
  color?: boolean;
  /** How long the mode ran, printed with the noise line. */
  seconds?: number;
}

export function printReport(report: BenchReport, options: ReportOptions = {}): void {
  console.log(formatReport(report, options));
}
