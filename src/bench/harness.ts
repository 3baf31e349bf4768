/**
 * The benchmark harness every `weft bench` mode shares: warm-up runs that are thrown away,
 * repeated measured runs, the median (robust to a noisy neighbour on a shared machine) and the
 * spread, and a plain-text table. Benchmarks compare rows measured in the same run; absolute
 * times on a shared machine mean little, ratios between rows mean a lot.
 */
import { performance } from 'node:perf_hooks';

export interface MeasureOptions {
  /** Runs before measuring, to warm the JIT and start pools. @default 1 */
  warmup?: number;
  /** Measured runs. @default 3 */
  repeats?: number;
  /** Called after each measured run with its index and seconds (progress on long runs). */
  onRun?: (index: number, seconds: number) => void;
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
}

export async function measure<V>(run: () => V | Promise<V>, options: MeasureOptions = {}): Promise<Measurement<V>> {
  const { warmup = 1, repeats = 3 } = options;
  for (let i = 0; i < warmup; i++) await run();
  const samples: number[] = [];
  let value!: V;
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    value = await run();
    const seconds = (performance.now() - start) / 1000;
    samples.push(seconds);
    options.onRun?.(i, seconds);
  }
  return { samples, value, ...summarize(samples) };
}

export interface Contender<V> {
  name: string;
  run(): V | Promise<V>;
}

/**
 * Measures several contenders in rounds: each round runs every contender once, in turn. Drift on
 * a shared machine (another process waking up, the JIT settling) then lands on all of them
 * alike, instead of on whichever happened to be measured during it.
 */
export async function measureInterleaved<V>(contenders: Contender<V>[], options: MeasureOptions = {}): Promise<Measurement<V>[]> {
  const { warmup = 1, repeats = 3 } = options;
  for (const contender of contenders) for (let i = 0; i < warmup; i++) await contender.run();
  const samples = contenders.map(() => [] as number[]);
  const values = new Array<V>(contenders.length);
  for (let round = 0; round < repeats; round++) {
    for (let c = 0; c < contenders.length; c++) {
      const start = performance.now();
      values[c] = await contenders[c]!.run();
      const seconds = (performance.now() - start) / 1000;
      samples[c]!.push(seconds);
      progress(`${contenders[c]!.name} run ${round + 1}: ${seconds.toFixed(3)} s`);
    }
  }
  return contenders.map((_, c) => ({ samples: samples[c]!, value: values[c]!, ...summarize(samples[c]!) }));
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

/** Progress for long runs, on stderr so that `--json` output stays clean. */
export function progress(message: string): void {
  if (process.stderr.isTTY || process.env.WEFT_BENCH_PROGRESS === '1' || process.env.CI) process.stderr.write(`… ${message}\n`);
}

/** What every benchmark returns: a table for people and the same figures for machines. */
export interface BenchReport {
  title: string;
  header: string[];
  rows: Cell[][];
  /** Lines printed under the table: ratios against goals, caveats. */
  notes: string[];
  /** Machine-readable figures, printed by --json. */
  data: unknown;
}

export function printReport(report: BenchReport): void {
  console.log(`\n${report.title}\n`);
  console.log(formatTable(report.header, report.rows));
  if (report.notes.length) console.log(`\n${report.notes.join('\n')}`);
}
