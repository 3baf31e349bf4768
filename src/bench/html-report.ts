/**
 * `--html FILE`: the benchmark's tables as one self-contained HTML page (inline CSS and SVG: no
 * script, no font, nothing fetched), so a report can be archived or attached to an issue as is.
 *
 *   BenchMetadata ─▶ header: weft version and commit, the command, the machine, load average
 *   BenchReport[] ─▶ per table: goals (ok / MISSED), its spread, its charts (report.charts, or
 *                    a chart of the table's time column when a mode gave none), the table, notes
 */
import { chartColumns, COLOURS, escapeHtml, formatValue, renderChart } from './html-chart.js';
import type { BenchReport, Cell, Chart } from './harness.js';
import { benchMetadata, type BenchMetadata } from './metadata.js';

/** A table whose runs disagreed by more than this is flagged: its ratios are not to be trusted (the text output's threshold too). */
export const NOISY_SPREAD = 0.25;

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 1040px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: .2rem; }
h2 { font-size: 1.15rem; margin-top: 2.4rem; border-top: 2px solid #ddd; padding-top: 1rem; overflow-wrap: anywhere; }
code { overflow-wrap: anywhere; }
code.command span { display: inline-block; max-width: 100%; overflow-wrap: anywhere; }
.meta { border-collapse: collapse; margin: .8rem 0; }
.meta th { text-align: left; padding: 2px 14px 2px 0; color: #555; font-weight: 600; vertical-align: top; white-space: nowrap; }
.meta td { padding: 2px 0; overflow-wrap: anywhere; }
table.figures { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums; }
table.figures th, table.figures td { padding: 3px 9px; border-bottom: 1px solid #ddd; text-align: right; }
table.figures th { white-space: normal; }
table.figures td { white-space: nowrap; }
table.figures th:first-child, table.figures td:first-child { text-align: left; white-space: normal; overflow-wrap: anywhere; }
table.figures .text { text-align: left; }
.notes { color: #555; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; }
.goals { list-style: none; padding: 0; margin: .6rem 0; }
.goals li { margin: 3px 0; overflow-wrap: anywhere; }
.verdict { display: inline-block; min-width: 4.2em; text-align: center; font-weight: 700; font-size: 12px; border-radius: 3px; padding: 0 4px; margin-right: 4px; color: #fff; }
.ok .verdict { background: #2a8a4a; }
.missed .verdict { background: #c62828; }
.spread { margin: .4rem 0; }
.noisy { color: #a14400; font-weight: 600; }
.legend { color: #555; font-size: 13px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -1px; margin: 0 4px 0 10px; border-radius: 2px; }
figure.chart { margin: 1rem 0; }
figure.chart figcaption { font-weight: 600; margin-bottom: 2px; overflow-wrap: anywhere; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
svg text { font: 12px system-ui, sans-serif; fill: #222; }
`;

/** `meta`: what the figures were measured with (gathered now when not given). */
export function renderHtml(reports: BenchReport[], meta: BenchMetadata = benchMetadata()): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>weft bench: ${escapeHtml(reports.map((r) => modeOf(r)).join(', '))}</title>
<style>${STYLE}</style></head><body>
<h1>weft bench</h1>
${renderMeta(meta)}
<p>Rows of one table were measured in the same run, taking turns; on a shared machine compare their ratios, not absolute figures.</p>
${legend(reports)}
${reports.map(renderReport).join('\n')}
</body></html>
`;
}

function modeOf(report: BenchReport): string {
  return /^weft bench (\w+)/.exec(report.title)?.[1] ?? report.title;
}

function renderMeta(meta: BenchMetadata): string {
  const { weft, machine } = meta;
  const commit = weft.commit ? `, commit <code>${escapeHtml(weft.commit.slice(0, 12))}</code>${weft.dirty ? ' with uncommitted changes' : ''}` : '';
  const load = (l: number[]) => l.map((n) => n.toFixed(2)).join(' / ');
  const rows: [string, string][] = [
    ['weft', `${escapeHtml(weft.version)}${commit}`],
    // Each argument wraps as a whole (a line break after the "--" of "--out" misreads), or inside itself when longer than a line.
    ['command', `<code class="command">${meta.command.split(' ').map((arg) => `<span>${escapeHtml(arg)}</span>`).join(' ')}</code>`],
    ['date', escapeHtml(meta.date)],
    ['CPU', `${escapeHtml(machine.cpu)}, ${machine.cores} ${machine.cores === 1 ? 'core' : 'cores'}`],
    ['memory', `${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB`],
    ['OS', escapeHtml(machine.os)],
    ['Node', escapeHtml(machine.node)],
    ['load average', `${load(machine.loadAverage.start)} at the start, ${load(machine.loadAverage.end)} at the end (1, 5, 15 min)`],
  ];
  return `<table class="meta">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;
}

function legend(reports: BenchReport[]): string {
  const charts = reports.flatMap(chartsOf);
  const peers = charts.some((c) => c.bars.some((b) => b.peer));
  const whiskers = charts.some((c) => c.bars.some((b) => b.min !== undefined));
  const ideal = charts.some((c) => c.ideal);
  const parts = [`<span class="swatch" style="background:${COLOURS.weft}"></span>weft`];
  if (peers) parts.push(`<span class="swatch" style="background:${COLOURS.peer}"></span>baseline or peer library (not weft)`);
  if (whiskers) parts.push('<span style="margin-left:10px">├─┤</span> fastest and slowest round');
  if (ideal) parts.push(`<span class="swatch" style="background:${COLOURS.ideal};width:4px"></span>ideal`);
  return `<p class="legend">${parts.join(' ')}</p>`;
}

function renderReport(report: BenchReport): string {
  // Columns of words (grain's executor) read left-aligned, as the first; figures right-aligned.
  const words = report.header.map((_, i) => i > 0 && report.rows.every((row) => row[i] === undefined || (typeof row[i] === 'string' && /^[a-z]/i.test(row[i] as string))));
  const align = (i: number) => (words[i] ? ' class="text"' : '');
  const head = report.header.map((h, i) => `<th${align(i)}>${escapeHtml(h)}</th>`).join('');
  const body = report.rows.map((row) => `<tr>${row.map((c, i) => `<td${align(i)}>${escapeHtml(cellText(c))}</td>`).join('')}</tr>`).join('\n');
  return `<section class="report">
<h2>${escapeHtml(report.title)}</h2>
${renderGoals(report)}
${renderSpread(report)}
${renderCharts(chartsOf(report))}
<table class="figures"><thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table>
${report.notes.length ? `<p class="notes">${escapeHtml(report.notes.join('\n'))}</p>` : ''}
</section>`;
}

function renderCharts(charts: Chart[]): string {
  const columns = chartColumns(charts);
  return charts.map((chart) => renderChart(chart, columns)).join('\n');
}

function renderGoals(report: BenchReport): string {
  if (!report.goals?.length) return '';
  const items = report.goals.map((g) => `<li class="${g.met ? 'ok' : 'missed'}"><span class="verdict">${g.met ? 'ok' : 'MISSED'}</span> ${escapeHtml(g.text)}</li>`);
  return `<ul class="goals">${items.join('')}</ul>`;
}

function renderSpread(report: BenchReport): string {
  if (report.spread === undefined) return '';
  const figure = `${(report.spread * 100).toFixed(0)}%`;
  if (report.spread <= NOISY_SPREAD) return `<p class="spread">largest spread of a row over the rounds ((max − min) / median): ${figure}</p>`;
  return `<p class="spread noisy">noisy run: a row's rounds differ by ${figure} of its median (more than ${NOISY_SPREAD * 100}%): its ratios are not to be trusted; run again on a quieter machine</p>`;
}

/** The mode's charts, or one of its time column ("seconds", "median µs"...) when it gave none. */
export function chartsOf(report: BenchReport): Chart[] {
  if (report.charts?.length) return report.charts;
  const column = report.header.findIndex((h) => /seconds|µs|\bms\b|time/i.test(h));
  if (column < 0) return [];
  const bars = report.rows
    .filter((row) => typeof row[column] === 'number')
    .map((row) => ({ label: cellText(row[0]), value: row[column] as number }));
  if (bars.length === 0) return [];
  const header = report.header[column]!;
  return [{ title: header, unit: header, higherIsBetter: false, bars }];
}

function cellText(cell: Cell): string {
  if (cell === undefined) return '–';
  return typeof cell === 'number' ? formatValue(cell, '') : cell;
}
