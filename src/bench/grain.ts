/**
 * The articles' grain study: the same 12 million samples cut coarse (3,000 tasks x 4,000) and
 * fine (30,000 x 400). Fine grain is where per-task overhead shows: weft's map chunks it away
 * (`threads`), `threads-per-task` sends one task per item as the peers do.
 */
import { type BenchReport, type Cell, type Chart, type Goal } from './harness.js';
import { largestSpread } from './verdict.js';
import { benchPi, type PiOptions } from './pi.js';

export type Grain = [tasks: number, samples: number];

export const GRAINS: Grain[] = [[3000, 4000], [30_000, 400]];

interface PiRowData {
  executor: string;
  seconds: number;
  speedup: number;
  efficiency: number;
}

/** `grains`: which cuts of the 12 M samples (`bench all` runs only the fine one: pi ran the coarse one). */
export async function benchGrain(options: PiOptions, grains: Grain[] = GRAINS): Promise<BenchReport> {
  const rows: Cell[][] = [];
  const data: unknown[] = [];
  const charts: Chart[][] = [];
  const goals: Goal[] = [];
  const spreads: (number | undefined)[] = [];
  // inline shows what running each fine-grained task through an executor costs by itself.
  const executors = ['inline', ...options.executors.filter((e) => e !== 'inline')];
  for (const [tasks, samples] of grains) {
    const report = await benchPi({ ...options, tasks, samples, executors, collections: false });
    const piRows = (report.data as { rows: PiRowData[] }).rows;
    data.push(report.data);
    charts.push((report.charts ?? []).map((c) => ({ ...c, bars: c.bars.map((b) => ({ ...b, label: `${tasks} x ${samples}: ${b.label}` })) })));
    spreads.push(report.spread);
    for (const r of piRows) {
      rows.push([`${tasks} x ${samples}`, r.executor, r.seconds, `${r.speedup.toFixed(2)}x`, `${(r.efficiency * 100).toFixed(0)}%`]);
    }
    const threads = piRows.find((r) => r.executor === 'threads');
    const goal = tasks === 3000 ? 1.8 : 1.6;
    if (threads) goals.push({ text: `${tasks} x ${samples}: threads ${threads.speedup.toFixed(2)}x sequential (goal: >= ${goal}x)`, met: threads.speedup >= goal });
  }
  return {
    title: `weft bench grain: 12 M samples, ${grains.map(([t, s]) => `${t} x ${s}`).join(' and ')}, ${options.workers} workers`,
    header: ['grain', 'executor', 'seconds', 'speedup', 'efficiency'],
    rows,
    // The pi charts of both grains in one (the same 12 M samples: their times compare).
    charts: (charts[0] ?? []).map((chart, i) => ({ ...chart, bars: charts.flatMap((c) => c[i]!.bars) })),
    notes: ['speedup is against the plain loop (sequential, no executor)'],
    goals,
    spread: largestSpread(spreads),
    data: { benchmark: 'grain', runs: data },
  };
}
