// `weft bench --html` and `--out`: a report rendered from a real reduced-size run and one built to
// hold every kind of figure (goals met and missed, a noisy spread, long labels, peers, a skipped
// row, an ideal line, a table without charts), opened in Debian's headless Chromium
// (playwright-core, /usr/bin/chromium, no browser download): a chart's bars match its table's
// rows, nothing overflows its box or its drawing, nothing is fetched; screenshots are kept in
// build/test-artifacts/. Then the metadata (version, commit, command, machine), and BullMQ beside
// weft's Redis row in `bench broker` with peers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { benchBroker } from '../../src/bench/broker.js';
import type { BenchReport } from '../../src/bench/harness.js';
import { renderHtml } from '../../src/bench/html-report.js';
import { benchMetadata, gitCheckout, shellQuote, withMetadata, type BenchMetadata } from '../../src/bench/metadata.js';
import { tempDir } from '../helpers.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ARTIFACTS = join(ROOT, 'build', 'test-artifacts');
const run = promisify(execFile);
const git = async (...args: string[]) => (await run('git', ['-C', ROOT, ...args])).stdout.trim();

interface PageCheck {
  /** Per report section: its table's row count and each chart's bar count. */
  sections: { rows: number; bars: number[] }[];
  /** Elements whose content is wider than their box. */
  overflowing: string[];
  /** Drawn elements reaching outside their svg's viewBox. */
  outside: string[];
  /** Bars whose label runs into the bar, or whose value text into the bar or its whisker. */
  overlapping: string[];
  pageWidth: number;
  viewportWidth: number;
}

/** Measures the page as it is laid out: what the tests assert on. */
function inspect(page: Page): Promise<PageCheck> {
  return page.evaluate(() => {
    const doc = (globalThis as unknown as { document: any; innerWidth: number }).document;
    const describe = (el: any) => `${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? `.${el.className}` : ''}: ${String(el.dataset?.label ?? el.textContent).slice(0, 60)}`;
    const sections = [...doc.querySelectorAll('section.report')].map((s: any) => ({
      rows: s.querySelectorAll('table.figures tbody tr').length,
      bars: [...s.querySelectorAll('figure.chart')].map((f: any) => f.querySelectorAll('g.bar').length),
    }));
    const overflowing = [...doc.querySelectorAll('body *')]
      .filter((el: any) => !(el instanceof (globalThis as any).SVGElement) && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)
      .map(describe);
    const outside: string[] = [];
    for (const svg of doc.querySelectorAll('svg')) {
      const box = svg.viewBox.baseVal;
      for (const el of svg.querySelectorAll('text, rect, line')) {
        const b = el.getBBox();
        if (b.x < box.x - 0.5 || b.y < box.y - 0.5 || b.x + b.width > box.x + box.width + 0.5 || b.y + b.height > box.y + box.height + 0.5) {
          outside.push(`${describe(el)} at x ${b.x.toFixed(1)}..${(b.x + b.width).toFixed(1)}, y ${b.y.toFixed(1)}..${(b.y + b.height).toFixed(1)} in ${box.width}x${box.height}`);
        }
      }
    }
    const overlapping: string[] = [];
    for (const bar of doc.querySelectorAll('g.bar:not(.missing)')) {
      const texts = bar.querySelectorAll(':scope > text');
      const label = texts[0].getBBox();
      const value = texts[texts.length - 1].getBBox();
      const shapes = [...bar.querySelectorAll('rect, line')].map((el: any) => el.getBBox());
      const start = Math.min(...shapes.map((b: any) => b.x));
      const end = Math.max(...shapes.map((b: any) => b.x + b.width));
      if (label.x + label.width > start) overlapping.push(`label of ${describe(bar)} ends at ${(label.x + label.width).toFixed(1)}, its bar starts at ${start.toFixed(1)}`);
      if (value.x < end) overlapping.push(`value of ${describe(bar)} starts at ${value.x.toFixed(1)}, its bar or whisker ends at ${end.toFixed(1)}`);
    }
    return { sections, overflowing, outside, overlapping, pageWidth: doc.documentElement.scrollWidth, viewportWidth: (globalThis as any).innerWidth };
  });
}

/** Opens `file`, records any request other than the page itself, checks the layout and keeps a screenshot. */
async function open(page: Page, file: string, screenshot: string): Promise<{ check: PageCheck; fetched: string[] }> {
  const url = pathToFileURL(file).href;
  const fetched: string[] = [];
  const onRequest = (request: { url(): string }) => { if (request.url() !== url) fetched.push(request.url()); };
  page.on('request', onRequest);
  try {
    await page.goto(url, { waitUntil: 'load' });
    const check = await inspect(page);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, screenshot), fullPage: true });
    assert.ok(statSync(join(ARTIFACTS, screenshot)).size > 10_000, 'the screenshot holds a page');
    return { check, fetched };
  } finally {
    page.off('request', onRequest);
  }
}

function assertLaidOut(check: PageCheck): void {
  assert.deepEqual(check.overflowing, [], 'no element is wider than its box');
  assert.deepEqual(check.outside, [], 'every label, bar and line lies inside its drawing');
  assert.deepEqual(check.overlapping, [], 'labels and values clear of their bars');
  assert.ok(check.pageWidth <= check.viewportWidth, `the page (${check.pageWidth} px) fits the window (${check.viewportWidth} px)`);
}

describe('weft bench --html in headless Chromium', () => {
  const dir = tempDir('weft-bench-report-');
  let browser: Browser;
  let page: Page;

  before(async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
    // Narrower than a laptop screen: a report must not need a wide window.
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  });

  after(async () => {
    await browser?.close();
  });

  test('a real pi run: a bar per table row in every chart, nothing overflows, nothing fetched; --out carries the same metadata', async () => {
    const html = join(dir, 'pi.html');
    const out = join(dir, 'pi.json');
    const args = ['bench', 'pi', '--tasks', '8', '--samples', '1000', '--repeats', '2', '--warmup', '0', '--html', html, '--out', out];
    const [, head] = await Promise.all([run(process.execPath, [cli, ...args], { timeout: 60_000 }), git('rev-parse', 'HEAD')]);

    const text = readFileSync(html, 'utf8');
    assert.doesNotMatch(text, /<script|<link|@import|url\(|https?:\/\//i, 'self-contained: no script, stylesheet, font or address');
    const { check, fetched } = await open(page, html, 'bench-report-pi.png');
    assert.deepEqual(fetched, [], 'the page fetches nothing');
    assert.equal(check.sections.length, 1);
    const [pi] = check.sections;
    assert.equal(pi!.rows, 8, 'plain loop, static split, the five executors and the collection row');
    assert.deepEqual(pi!.bars, [8, 8], 'seconds and speedup: a bar for every row of the table');
    assertLaidOut(check);

    // The speedup chart: whiskers over the rounds on every bar, and the ideal line at 2 workers.
    const speedup = page.locator('figure.chart').nth(1);
    assert.match(await speedup.locator('figcaption').innerText(), /speedup over the plain loop/);
    assert.equal(await speedup.locator('g.bar g.whisker').count(), 8);
    assert.equal(await speedup.locator('g.ideal text').textContent(), 'ideal: 2x (2 workers)');
    assert.equal(await page.locator('figure.chart').first().locator('g.bar.peer').count(), 2, 'the plain loop and the static split are not weft');

    const json = JSON.parse(readFileSync(out, 'utf8')) as { meta: BenchMetadata; rows: { executor: string; min: number; max: number; seconds: number }[] };
    assert.equal(json.rows.length, 8, 'the figures are where they were, beside meta');
    for (const row of json.rows) assert.ok(row.min <= row.seconds && row.seconds <= row.max, `${row.executor}: min <= median <= max`);
    const { meta } = json;
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(meta.weft.version, pkg.version);
    assert.equal(meta.weft.commit, head, 'the checkout the CLI ran from');
    assert.equal(meta.command, `weft ${args.map(shellQuote).join(' ')}`);
    assert.equal(meta.machine.cores, availableParallelism());
    assert.equal(meta.machine.node, process.version);
    assert.ok(meta.machine.memoryBytes > 0 && meta.machine.cpu.length > 0 && meta.machine.os.length > 0);
    for (const load of [meta.machine.loadAverage.start, meta.machine.loadAverage.end]) assert.ok(load.length === 3 && load.every((n) => n >= 0));

    // The same metadata heads the page.
    const header = await page.locator('table.meta').innerText();
    for (const shown of [pkg.version, head.slice(0, 12), meta.command, meta.machine.cpu, `${meta.machine.cores} cores`, meta.machine.os, process.version]) {
      assert.ok(header.includes(shown), `the header shows ${shown}`);
    }
  });

  test('every kind of figure: goals ok and MISSED, a noisy spread, long labels, peers, a skipped row, a table without charts', async () => {
    const long = `collection reduceByKey over a very long executor name (${'x'.repeat(120)})`;
    const reports: BenchReport[] = [
      {
        title: 'weft bench overhead: synthetic, with every kind of bar',
        header: ['executor', 'tasks/s', 'median µs'],
        rows: [['threads', 1_234_567, 23], ['piscina', 48_000, 30], [long, 999, 4000], ['redis (skipped)', undefined, undefined]],
        notes: ['a note that is long enough to wrap: '.repeat(8)],
        goals: [{ text: 'threads / piscina: 25.7x tasks/s (goal: >= 3x)', met: true }, { text: 'processes: 41,000 tasks/s (goal: >= 60,000)', met: false }],
        spread: 1.23,
        charts: [
          { title: 'trivial tasks submitted at once', unit: 'tasks/s', higherIsBetter: true, bars: [
            { label: 'threads', value: 1_234_567, min: 1_100_000, max: 1_300_000 },
            { label: 'piscina', value: 48_000, min: 47_000, max: 52_000, peer: true },
            { label: long, value: 999, min: 10, max: 1500 },
            { label: 'redis (skipped)', value: Number.NaN },
          ] },
          // The ideal line beyond every bar: the scale must reach it.
          { title: 'speedup', unit: 'x plain loop', higherIsBetter: true, ideal: { value: 16, label: 'ideal: 16x (16 workers)' }, bars: [
            { label: 'threads', value: 1.84, min: 1.7, max: 1.9 }, { label: 'piscina', value: 0.26, min: 0.25, max: 0.27, peer: true },
            { label: long, value: 3, min: 2, max: 4 }, { label: 'redis (skipped)', value: Number.NaN },
          ] },
        ],
        data: {},
      },
      // A report without charts: a chart of its time column, one bar per row with a time.
      { title: 'weft bench green: no charts given', header: ['mode', 'seconds', 'peak RSS MB'], rows: [['bare', 1.5, 900], ['green', 1.6, 1000]], notes: [], data: {} },
    ];
    const meta = benchMetadata(['bench', 'overhead', '--html', 'a file with spaces.html']);
    const { commit: _commit, dirty: _dirty, ...outsideGit } = meta.weft;
    const file = join(dir, 'synthetic.html');
    writeFileSync(file, renderHtml(reports, { ...meta, weft: outsideGit }));

    const { check, fetched } = await open(page, file, 'bench-report-synthetic.png');
    assert.deepEqual(fetched, []);
    assert.deepEqual(check.sections, [{ rows: 4, bars: [4, 4] }, { rows: 2, bars: [2] }]);
    assertLaidOut(check);
    const first = page.locator('section.report').first();
    assert.deepEqual(await first.locator('ul.goals li .verdict').allInnerTexts(), ['ok', 'MISSED']);
    assert.equal(await first.locator('ul.goals li.missed').innerText(), 'MISSED processes: 41,000 tasks/s (goal: >= 60,000)');
    assert.match(await first.locator('.spread').innerText(), /noisy run: a row's rounds differ by 123% of its median/);
    assert.equal(await first.locator('figure.chart').first().locator('g.bar.peer').count(), 1);
    assert.equal(await first.locator('figure.chart').first().locator('g.bar.missing').textContent(), 'redis (skipped)no figure');
    assert.match(await first.locator(`g.bar[data-label="${long}"] title`).first().textContent() ?? "", /very long executor name/, 'a cut label keeps its full text as a tooltip');
    assert.equal(await page.locator('section.report').nth(1).locator('figcaption').innerText(), 'seconds');
    assert.match(await page.locator('table.meta').innerText(), /command\s+weft bench overhead --html 'a file with spaces\.html'/);
    assert.doesNotMatch(await page.locator('table.meta').innerText(), /commit/, 'no commit outside a git checkout');
  });
});

describe('bench metadata', () => {
  test('a commit only from weft\'s own checkout, not from a project it is installed in', async () => {
    assert.deepEqual(gitCheckout(tempDir('weft-not-git-')), {}, 'no checkout');
    assert.deepEqual(gitCheckout(join(ROOT, 'src')), {}, 'inside a checkout that starts above it: node_modules/weft in a project');
    assert.equal(gitCheckout(ROOT).commit, await git('rev-parse', 'HEAD'));
  });

  test('--out: one mode\'s figures get a meta field, bench all\'s list becomes reports', () => {
    const meta = benchMetadata([]);
    assert.deepEqual(withMetadata({ rows: [1] }, meta), { meta, rows: [1] });
    assert.deepEqual(withMetadata([{ rows: [1] }, { rows: [2] }], meta), { meta, reports: [{ rows: [1] }, { rows: [2] }] });
  });
});

describe('weft bench broker with peers: BullMQ beside weft\'s Redis row', () => {
  test('jobs/s and job round trip on the local Redis, in the same run, marked as a peer; its queue removed', async () => {
    const report = await benchBroker({ messages: 300, calls: 40, repeats: 1, brokers: ['memory', 'redis'], peers: true });
    const all = (report.data as { rows: { broker: string; peer?: boolean; bare?: boolean; skipped?: string; queue?: string; messagesPerSecond?: number; rttMedianUs?: number; rttP90Us?: number }[] }).rows;
    // Beside the weft rows and the peer, Redis has a bare ioredis row (issue 12's floor).
    assert.deepEqual(all.filter((r) => r.bare).map((r) => r.broker), ['redis, bare ioredis']);
    const rows = all.filter((r) => !r.bare);
    assert.deepEqual(rows.map((r) => [r.broker, r.peer === true]), [['memory', false], ['redis', false], ['BullMQ on redis', true]]);
    const bullmq = rows[2]!;
    assert.equal(bullmq.skipped, undefined, `BullMQ skipped: ${bullmq.skipped}`);
    assert.ok(bullmq.messagesPerSecond! > 0);
    assert.ok(bullmq.rttMedianUs! > 0 && bullmq.rttP90Us! >= bullmq.rttMedianUs!);
    assert.ok(report.rows.some((row) => row[0] === 'BullMQ on redis (peer)'), 'the table marks BullMQ as a peer');
    assert.match(report.notes.join('\n'), /BullMQ on redis \(a peer, not weft;.*weft's redis row has \d+\.\d+x its jobs\/s/);
    // Bars that are not weft (the bare client and BullMQ) take the peer colour; weft's do not.
    for (const chart of report.charts!) assert.deepEqual(chart.bars.map((b) => b.peer === true), all.map((r) => r.peer === true || r.bare === true), chart.title);
    const { Redis } = await import('ioredis');
    const redis = new Redis('redis://127.0.0.1:6379');
    try {
      assert.deepEqual(await redis.keys(`bull:${bullmq.queue}:*`), [], 'the BullMQ queue was obliterated');
    } finally {
      redis.disconnect();
    }
  });

  test('a Redis that does not answer: weft\'s row and BullMQ\'s are skipped rows, the run goes on', async () => {
    const report = await benchBroker({ messages: 50, calls: 5, repeats: 1, brokers: ['memory', 'redis://127.0.0.1:1'], peers: true });
    const rows = (report.data as { rows: { broker: string; skipped?: string }[] }).rows;
    assert.equal(rows.length, 3);
    assert.equal(rows[0]!.skipped, undefined);
    assert.match(rows[1]!.skipped!, /.+/);
    assert.deepEqual(rows[2], { broker: 'BullMQ on redis://127.0.0.1:1', peer: true, skipped: 'its Redis (redis://127.0.0.1:1) was skipped' });
    assert.ok(report.charts![0]!.bars.slice(1).every((b) => Number.isNaN(b.value)), 'skipped rows: bars without a figure');
  });
});
