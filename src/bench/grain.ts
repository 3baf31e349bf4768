/**
 * The articles' grain study: the same 12 million samples cut coarse (3,000 tasks x 4,000) and
 * fine (30,000 x 400). Fine grain is where per-task overhead shows: weft's map chunks it away
 * (`threads`), `threads-per-task` sends one task per item as the peers do.
 */
import { type BenchReport, type Cell } from './harness.js';
import { benchPi, type PiOptions } from './pi.js';

const GRAINS: [tasks: number, samples: number][] = [[3000, 4000], [30_000, 400]];

interface PiRowData {
  executor: string;
  seconds: number;
  speedup: number;
  efficiency: number;
}

export async function benchGrain(options: PiOptions): Promise<BenchReport> {
  const rows: Cell[][] = [];
  const data: unknown[] = [];
  const notes: string[] = [];
  // inline shows what running each fine-grained task through an executor costs by itself.
  const executors = ['inline', ...options.executors.filter((e) => e !== 'inline')];
  for (const [tasks, samples] of GRAINS) {
    const report = await benchPi({ ...options, tasks, samples, executors, collections: false });
    const piRows = (report.data as { rows: PiRowData[] }).rows;
    data.push(report.data);
    for (const r of piRows) {
      rows.push([`${tasks} x ${samples}`, r.executor, r.seconds, `${r.speedup.toFixed(2)}x`, `${(r.efficiency * 100).toFixed(0)}%`]);
    }
    const threads = piRows.find((r) => r.executor === 'threads');
    if (threads) notes.push(`${tasks} x ${samples}: threads ${threads.speedup.toFixed(2)}x sequential (goal: >= ${tasks === 3000 ? '1.8' : '1.6'}x)`);
  }
  return {
    title: `weft bench grain: 12 M samples, coarse and fine, ${options.workers} workers`,
    header: ['grain', 'executor', 'seconds', 'speedup', 'efficiency'],
    rows,
    notes: ['speedup is against the plain loop (sequential, no executor)', ...notes],
    data: { benchmark: 'grain', runs: data },
  };
}
