/**
 * The report charts (harness.ts's Chart) that the modes draw, built from each row's rounds: time,
 * a rate (work / time) and a speedup against a baseline row, each bar with the min–max of its
 * rounds as whiskers. The modes only say which rows, which figure, and which rows are not weft's.
 *
 *   rows { label, rounds: { median, min, max } } ─▶ secondsChart  (s; shorter is better)
 *                                                 ─▶ rateChart     (work / s; longer is better)
 *                                                 ─▶ speedupChart  (baseline / s, ideal line)
 */
import type { Chart, ChartBar } from './harness.js';

export interface Rounds {
  median: number;
  min: number;
  max: number;
}

export interface TimedRow {
  label: string;
  /** Its figure over the measured rounds (seconds, for all but roundsChart); undefined for a row without figures (a skipped server). */
  rounds: Rounds | undefined;
  /** Not weft: another library or a bare baseline (drawn in another colour). */
  peer?: boolean;
}

/**
 * Rows that are not weft: the peer pools, the plain loops and bare clients the rows are measured
 * against, BullMQ. Their bars get the peer colour.
 */
export function notWeft(label: string): boolean {
  return /^(piscina|tinypool|workerpool|plain loop|static split|bare |bullmq|JSON over TCP|MessageChannel|Promise\.all)/.test(label);
}

const bar = (row: TimedRow, value: (seconds: number) => number): ChartBar => {
  const peer = row.peer ?? notWeft(row.label);
  if (!row.rounds) return { label: row.label, value: Number.NaN, ...(peer ? { peer } : {}) };
  // value() falls as seconds rise for rates and speedups: the slowest round gives the low whisker.
  const [a, b] = [value(row.rounds.min), value(row.rounds.max)];
  return { label: row.label, value: value(row.rounds.median), min: Math.min(a, b), max: Math.max(a, b), ...(peer ? { peer } : {}) };
};

export function secondsChart(title: string, rows: TimedRow[]): Chart {
  return roundsChart(title, 's', false, rows);
}

/** Any figure read once per round (seconds, MB of peak RSS...): median, whiskers at min and max. */
export function roundsChart(title: string, unit: string, higherIsBetter: boolean, rows: TimedRow[]): Chart {
  return { title, unit, higherIsBetter, bars: rows.map((r) => bar(r, (v) => v)) };
}

/** `work` units done per round (tasks, samples, messages, MB...): the bar is work per second. */
export function rateChart(title: string, unit: string, work: number, rows: TimedRow[]): Chart {
  return { title, unit, higherIsBetter: true, bars: rows.map((r) => bar(r, (s) => work / s)) };
}

/**
 * The baseline's median seconds over each row's: 2x is twice as fast as the baseline. With
 * `workers`, a line at the ideal speedup (workers x) is drawn in.
 */
export function speedupChart(title: string, baseline: TimedRow, rows: TimedRow[], workers?: number): Chart {
  const base = baseline.rounds!.median;
  return {
    title,
    unit: `x ${baseline.label}`,
    higherIsBetter: true,
    bars: rows.map((r) => bar(r, (s) => base / s)),
    ...(workers ? { ideal: { value: workers, label: `ideal: ${workers}x (${workers} workers)` } } : {}),
  };
}

/** A figure measured once per row (no rounds: no whiskers), e.g. a median over all calls. */
export function figureChart(title: string, unit: string, higherIsBetter: boolean, rows: { label: string; value: number | undefined; peer?: boolean }[]): Chart {
  return {
    title,
    unit,
    higherIsBetter,
    bars: rows.map((r) => {
      const peer = r.peer ?? notWeft(r.label);
      return { label: r.label, value: r.value ?? Number.NaN, ...(peer ? { peer } : {}) };
    }),
  };
}
