/**
 * Verdicts and noise: how `weft bench` says whether a run met its goals and whether it can be
 * trusted at all. A goal line says `ok` or `MISSED` (green or red on a terminal). A run whose
 * rounds disagreed by more than NOISE_THRESHOLD says so above its table and in --json, with the
 * machine's load average before and after it: on a shared machine that, not weft, is often why.
 */
import { availableParallelism, loadavg } from 'node:os';
import type { Goal } from './harness.js';

/**
 * A run is flagged noisy when its largest spread ((max - min) / median of a row's rounds) is
 * above 25%. The goals compare rows to 10–20% (1.8x against 1.6x, within 1.10x): with runs of one
 * row disagreeing by more than a quarter, a difference that size can be the neighbours' doing.
 * Quiet rounds here spread by 3–15%; a loaded 2-core machine gives 50–300%.
 */
export const NOISE_THRESHOLD = 0.25;

export interface Noise {
  noisy: boolean;
  /** The largest spread among the rows' measurements; null when the mode measured one round. */
  spread: number | null;
  threshold: number;
  /** The 1-minute load average when the mode started and when it ended. */
  loadAverage: { before: number; after: number };
  cores: number;
}

/** The 1-minute load average (0 where the OS has none, as on Windows). */
export function loadAverage(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}

export function judgeNoise(spread: number | undefined, before: number, after: number): Noise {
  const known = spread !== undefined && Number.isFinite(spread);
  return {
    noisy: known && spread > NOISE_THRESHOLD,
    spread: known ? spread : null,
    threshold: NOISE_THRESHOLD,
    loadAverage: { before, after },
    cores: availableParallelism(),
  };
}

const percent = (ratio: number) => `${Math.round(ratio * 100)}%`;

function load(noise: Noise): string {
  return `load average ${noise.loadAverage.before.toFixed(2)} before, ${noise.loadAverage.after.toFixed(2)} after, on ${noise.cores} cores`;
}

/** The warning printed above a noisy run's table; undefined for a run that can be trusted. */
export function noiseWarning(noise: Noise, color = false): string | undefined {
  if (!noise.noisy) return undefined;
  const text = `NOISY RUN: rounds of one row disagreed by up to ${percent(noise.spread!)} (trusted up to ${percent(noise.threshold)}); the ratios and verdicts below may not hold (${load(noise)})`;
  return paint(text, RED, color);
}

/** The line under every table: how far to trust it. */
export function noiseFooter(noise: Noise): string {
  const spread = noise.spread === null ? 'one round each, no spread to judge' : `largest spread ${percent(noise.spread)} (noisy above ${percent(noise.threshold)})`;
  return `${spread}; ${load(noise)}`;
}

/** `ok      threads: 1.84x sequential (goal: >= 1.8x)`, or MISSED, coloured on a terminal. */
export function verdictLine(goal: Goal, color = false): string {
  return goal.met ? `${paint('ok', GREEN, color)}      ${goal.text}` : `${paint('MISSED', RED, color)}  ${goal.text}`;
}

/** The largest spread among measurements (undefined when there is none to judge). */
export function largestSpread(spreads: Iterable<number | undefined>): number | undefined {
  let largest: number | undefined;
  for (const spread of spreads) if (spread !== undefined && Number.isFinite(spread)) largest = Math.max(largest ?? 0, spread);
  return largest;
}

/** Colours when stdout is a terminal that wants them (https://no-color.org). */
export function wantsColor(stream: { isTTY?: boolean } = process.stdout): boolean {
  return stream.isTTY === true && !process.env.NO_COLOR;
}

const GREEN = 32;
const RED = 31;

function paint(text: string, code: number, color: boolean): string {
  return color ? `\x1b[${code}m${text}\x1b[0m` : text;
}
