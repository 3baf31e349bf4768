/**
 * One report chart (harness.ts's Chart) as inline SVG: a horizontal bar per row with its value,
 * min–max whiskers over the rounds, peers in another colour, an optional reference line (the
 * ideal speedup) and a scaled axis. Sizes are computed from the text it holds, so labels and
 * values stay inside the drawing at any length (long labels are cut, the full one in a tooltip).
 *
 *   Chart { title, unit, bars[{ label, value, min?, max?, peer? }], ideal? }
 *     ─▶ layout (label column, value column, scale to the largest value, whisker or ideal)
 *     ─▶ <figure><svg>… one <g class="bar"> per bar …</svg><figcaption/></figure>
 */
import type { Chart, ChartBar } from './harness.js';

const WIDTH = 760;
const BAR = 18;
const GAP = 8;
const TOP = 26; // room for the ideal line's label
const AXIS = 34; // tick labels and the axis caption under the bars
const FONT_PX = 12;
const MAX_LABEL_CHARS = 44;

export const COLOURS = { weft: '#3567c7', peer: '#e0892b', whisker: '#1d1d1d', ideal: '#2a9d55', grid: '#e3e3e3', muted: '#666' };

/**
 * A generous width for `text` at 12 px in a sans-serif font (DejaVu Sans, Chromium's default on
 * Debian, is among the widest): overestimating only leaves a little space unused.
 */
export function textWidth(text: string): number {
  let width = 0;
  for (const c of text) {
    if (/[ il.,:;'|!()[\]]/.test(c)) width += 0.36;
    else if (/[A-Z@%&mwMW]/.test(c)) width += 0.9;
    else if (/[\u0080-\uffff]/.test(c)) width += 1;
    else width += 0.64;
  }
  return Math.ceil(width * FONT_PX) + 2;
}

/** A value as it is printed beside its bar: a speedup as 1.84x, a rate with thousands separated. */
export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'no figure';
  if (/^x\b/.test(unit)) return `${Math.abs(value) < 0.1 && value !== 0 ? value.toPrecision(2) : value.toFixed(2)}x`;
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

/** Ticks at 1, 2, 2.5 or 5 times a power of ten, 3 to 6 of them, the last at or above `max`. */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => max / s <= 5) ?? 10 * power;
  const ticks: number[] = [];
  for (let t = 0; t < max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

function cut(label: string): string {
  return label.length > MAX_LABEL_CHARS ? `${label.slice(0, MAX_LABEL_CHARS - 1)}…` : label;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const finite = (n: number | undefined): n is number => n !== undefined && Number.isFinite(n);

/** Room for the labels left of the bars and the values right of them. */
export interface ChartColumns {
  labelWidth: number;
  valueWidth: number;
}

/** Columns wide enough for every chart given: charts of one table then line up. */
export function chartColumns(charts: Chart[]): ChartColumns {
  const bars = charts.flatMap((c) => c.bars.map((b) => ({ label: b.label, value: formatValue(b.value, c.unit) })));
  return {
    labelWidth: Math.max(60, ...bars.map((b) => textWidth(cut(b.label)))) + 10,
    valueWidth: Math.max(0, ...bars.map((b) => textWidth(b.value))) + 8,
  };
}

export function renderChart(chart: Chart, columns: ChartColumns = chartColumns([chart])): string {
  const bars = chart.bars;
  const { labelWidth, valueWidth } = columns;
  const plotLeft = labelWidth;
  const plotWidth = WIDTH - labelWidth - valueWidth - 8;
  const top = chart.ideal ? TOP : 8;
  const height = top + bars.length * (BAR + GAP) + AXIS;
  const largest = Math.max(0, ...bars.flatMap((b) => [b.value, b.max ?? b.value]).filter(finite), chart.ideal?.value ?? 0);
  const ticks = niceTicks(largest);
  const scaleMax = ticks[ticks.length - 1]!;
  const x = (v: number) => plotLeft + (Math.max(0, v) / scaleMax) * plotWidth;
  const barsBottom = top + bars.length * (BAR + GAP) - GAP;

  const grid = ticks.map((t) => `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${top - 4}" y2="${barsBottom + 4}" stroke="${COLOURS.grid}"/>`
    + `<text x="${x(t).toFixed(1)}" y="${barsBottom + 18}" text-anchor="middle" fill="${COLOURS.muted}">${escapeHtml(formatTick(t, chart.unit))}</text>`).join('');
  const rows = bars.map((bar, i) => renderBar(bar, i, top, x, chart.unit)).join('\n');
  const ideal = chart.ideal ? renderIdeal(chart.ideal, x(chart.ideal.value), top, barsBottom) : '';
  const caption = `${chart.unit} — ${chart.higherIsBetter ? 'longer is better' : 'shorter is better'}`;
  const axis = `<text x="${plotLeft}" y="${height - 4}" fill="${COLOURS.muted}">${escapeHtml(caption)}</text>`;
  const title = chart.title; // the unit is under the axis
  return `<figure class="chart" data-bars="${bars.length}">
<figcaption>${escapeHtml(title)}</figcaption>
<svg viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${escapeHtml(title)}">
${grid}
${rows}
${ideal}
${axis}
</svg>
</figure>`;
}

function renderBar(bar: ChartBar, index: number, top: number, x: (v: number) => number, unit: string): string {
  const y = top + index * (BAR + GAP);
  const middle = y + BAR / 2;
  const label = cut(bar.label);
  const tooltip = label === bar.label ? '' : `<title>${escapeHtml(bar.label)}</title>`;
  const labelText = `<text x="0" y="${middle + 4}">${tooltip}${escapeHtml(label)}</text>`;
  if (!Number.isFinite(bar.value)) {
    return `<g class="bar missing" data-label="${escapeHtml(bar.label)}">${labelText}<text x="${x(0) + 4}" y="${middle + 4}" fill="${COLOURS.muted}">no figure</text></g>`;
  }
  const fill = bar.peer ? COLOURS.peer : COLOURS.weft;
  const end = x(bar.value);
  let whisker = '';
  let right = end;
  if (finite(bar.min) && finite(bar.max)) {
    const [lo, hi] = [x(bar.min), x(bar.max)];
    right = Math.max(right, hi);
    whisker = `<g class="whisker" stroke="${COLOURS.whisker}" stroke-width="1.2"><title>${escapeHtml(`min ${formatValue(bar.min, unit)}, max ${formatValue(bar.max, unit)}`)}</title>`
      + `<line x1="${lo.toFixed(1)}" x2="${hi.toFixed(1)}" y1="${middle}" y2="${middle}"/>`
      + `<line x1="${lo.toFixed(1)}" x2="${lo.toFixed(1)}" y1="${middle - 5}" y2="${middle + 5}"/>`
      + `<line x1="${hi.toFixed(1)}" x2="${hi.toFixed(1)}" y1="${middle - 5}" y2="${middle + 5}"/></g>`;
  }
  return `<g class="bar${bar.peer ? ' peer' : ''}" data-label="${escapeHtml(bar.label)}" data-value="${bar.value}">${labelText}`
    + `<rect x="${x(0)}" y="${y}" width="${Math.max(1, end - x(0)).toFixed(1)}" height="${BAR}" fill="${fill}" rx="2"/>`
    + `${whisker}<text x="${(right + 5).toFixed(1)}" y="${middle + 4}">${escapeHtml(formatValue(bar.value, unit))}</text></g>`;
}

function renderIdeal(ideal: { value: number; label: string }, at: number, top: number, bottom: number): string {
  const text = ideal.label;
  // The label sits right of the line, or left of it when it would run off the drawing.
  const anchorEnd = at + 4 + textWidth(text) > WIDTH;
  return `<g class="ideal"><line x1="${at.toFixed(1)}" x2="${at.toFixed(1)}" y1="${top - 8}" y2="${bottom + 4}" stroke="${COLOURS.ideal}" stroke-width="2" stroke-dasharray="5 3"/>`
    + `<text x="${(anchorEnd ? at - 4 : at + 4).toFixed(1)}" y="${top - 10}" fill="${COLOURS.ideal}"${anchorEnd ? ' text-anchor="end"' : ''}>${escapeHtml(text)}</text></g>`;
}

function formatTick(value: number, unit: string): string {
  if (/^x\b/.test(unit)) return `${value}x`;
  if (value >= 1e6) return `${Number((value / 1e6).toPrecision(3))}M`;
  return value >= 1000 ? `${Number((value / 1000).toPrecision(3))}k` : String(value);
}
