/**
 * `--html FILE`: the benchmark tables as one self-contained HTML page, each with a bar chart of
 * its time column drawn as inline SVG (no scripts, no network), so a report can be archived or
 * attached to an issue as it is.
 */
import type { BenchReport, Cell } from './harness.js';

const BAR_HEIGHT = 22;
const CHART_WIDTH = 640;
const LABEL_WIDTH = 220;

export function renderHtml(reports: BenchReport[], generatedAt = new Date()): string {
  const sections = reports.map(renderReport).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>weft bench</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 960px; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.notes { color: #555; white-space: pre-wrap; }
svg text { font: 12px system-ui, sans-serif; }
</style></head><body>
<h1>weft bench</h1>
<p>Generated ${escapeHtml(generatedAt.toISOString())} on Node ${escapeHtml(process.version)}. Rows of one table were measured in the same run; compare ratios, not absolute times.</p>
${sections}
</body></html>
`;
}

function renderReport(report: BenchReport): string {
  const head = report.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = report.rows.map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(cellText(c))}</td>`).join('')}</tr>`).join('\n');
  return `<section>
<h2>${escapeHtml(report.title)}</h2>
${renderChart(report)}
<table><thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table>
<p class="notes">${escapeHtml(report.notes.join('\n'))}</p>
</section>`;
}

/** Bars for the first column whose header names a time ("seconds", "median µs", ...). */
function renderChart(report: BenchReport): string {
  const column = report.header.findIndex((h) => /seconds|µs|ms\b|time/i.test(h));
  if (column < 0) return '';
  const bars = report.rows
    .map((row) => ({ label: cellText(row[0]), value: typeof row[column] === 'number' ? (row[column] as number) : Number.NaN }))
    .filter((bar) => Number.isFinite(bar.value));
  if (bars.length === 0) return '';
  const max = Math.max(...bars.map((b) => b.value));
  const height = bars.length * (BAR_HEIGHT + 6) + 24;
  const rects = bars.map((bar, i) => {
    const y = i * (BAR_HEIGHT + 6);
    const width = max > 0 ? ((CHART_WIDTH - LABEL_WIDTH - 80) * bar.value) / max : 0;
    return `<text x="0" y="${y + 15}">${escapeHtml(bar.label)}</text>`
      + `<rect x="${LABEL_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="#4a7bd0"></rect>`
      + `<text x="${(LABEL_WIDTH + width + 6).toFixed(1)}" y="${y + 15}">${escapeHtml(formatNumber(bar.value))}</text>`;
  }).join('\n');
  return `<svg width="${CHART_WIDTH}" height="${height}" role="img" aria-label="${escapeHtml(report.header[column]!)} per row">
${rects}
<text x="${LABEL_WIDTH}" y="${height - 6}" fill="#555">${escapeHtml(report.header[column]!)} (shorter is faster)</text>
</svg>`;
}

function cellText(cell: Cell): string {
  if (cell === undefined) return '-';
  return typeof cell === 'number' ? formatNumber(cell) : cell;
}

function formatNumber(value: number): string {
  return Math.abs(value) >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
