// The dashboard driven in Debian's headless Chromium (playwright-core, /usr/bin/chromium, no
// browser download) on a broker-backed cluster on Redis with two `weft worker --broker`
// processes: the workers appear, a task's progress moves, a dead letter is retried from the
// page and then completes; what the cluster sends is shown as text. The screenshot is kept in build/test-artifacts/ (and copied to
// docs/ for the README when WEFT_UPDATE_SCREENSHOT=1 or it is not there yet).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ClusterExecutor, serveDashboard, type Dashboard, type Future } from '../../src/index.js';
import { removeQueues } from '../../src/broker/remove-queues.js';
import { tempDir } from '../helpers.js';
import { freshQueue, startWorker, type FleetWorker } from '../durable/fleet.js';
import dash from './dashboard-tasks.js';

const REDIS = 'redis://127.0.0.1:6379';
const TASKS = fileURLToPath(new URL('./dashboard-tasks.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ARTIFACTS = join(ROOT, 'build', 'test-artifacts');
const DOCS_SCREENSHOT = join(ROOT, 'docs', 'dashboard-screenshot.png');
/** Every wait in the page names what it waits for and gives up after this long. */
const WAIT_MS = 15_000;
/** Tasks of 50 ms for the throughput chart: about a second on the two workers' 8 slots. */
const LOAD = 160;

describe('the dashboard in headless Chromium, on Redis with worker processes', () => {
  const queue = freshQueue('dashboard');
  const dir = tempDir('weft-dashboard-');
  const workers: FleetWorker[] = [];
  let cluster: ClusterExecutor;
  let dashboard: Dashboard;
  let browser: Browser;
  let page: Page;
  /** The task of the progress test: it waits at step 2 of 4 until the last test lets it finish. */
  let stepped: Future<number>;
  let load: Promise<number[]>;
  const pageErrors: string[] = [];

  /** Waits for `selector` in the page; the failure says what the test waited for. */
  async function shows(selector: string, what: string): Promise<void> {
    try {
      await page.waitForSelector(selector, { timeout: WAIT_MS });
    } catch {
      throw new Error(`the page did not show ${what} (${selector}) within ${WAIT_MS} ms`);
    }
  }

  /** Waits until the text of `selector` matches `pattern`. */
  async function reads(selector: string, pattern: RegExp, what: string): Promise<void> {
    try {
      await page.waitForFunction(({ s, source }) => {
        const element = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector(s);
        return new RegExp(source).test(element?.textContent ?? '');
      }, { s: selector, source: pattern.source }, { timeout: WAIT_MS });
    } catch {
      const text = await page.textContent(selector).catch(() => null);
      throw new Error(`the page did not show ${what}: ${selector} reads ${JSON.stringify(text)}, expected ${pattern} within ${WAIT_MS} ms`);
    }
  }

  before(async () => {
    // The browser starts while the workers do: both take seconds on a busy machine.
    const launching = chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] })
      .then(async (launched) => {
        browser = launched;
        page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
      });
    const started = await Promise.all(['worker-a', 'worker-b'].map((name) => startWorker(REDIS, { queues: [queue], tasks: [TASKS], concurrency: 4, extra: ['--name', name] })));
    workers.push(...started);
    await Promise.all(started.map((w) => w.ready));
    cluster = new ClusterExecutor({ broker: REDIS, queue });
    dashboard = await serveDashboard({ cluster, queues: [queue], port: 0, interval: 250 });
    await launching;
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(message.text()); });
    await page.goto(dashboard.url, { waitUntil: 'domcontentloaded' });
  });

  after(async () => {
    await browser?.close();
    await dashboard?.close();
    await cluster?.shutdown({ cancelPending: true });
    await Promise.all(workers.map((w) => w.stop()));
    await removeQueues(REDIS, [queue, `${queue}.dead`]);
  });

  test('the workers of the running cluster appear, with their pid and state', async () => {
    assert.equal(new URL(page.url()).search, '', 'the token left the address bar for a cookie');
    for (const [index, name] of ['worker-a', 'worker-b'].entries()) {
      await shows(`tr[data-worker="${name}"]`, `the worker ${name}`);
      const cells = await page.$$eval(`tr[data-worker="${name}"] td`, (tds) => tds.map((td) => td.textContent));
      assert.equal(cells[2], String(workers[index]!.pid));
      assert.equal(cells[8], 'ready');
    }
    await reads('#live', /^live$/, 'the live marker');
  });

  test('a running task\'s progress moves on the page', async () => {
    const future = cluster.submit(dash.stepped, dir, 4);
    stepped = future;
    const cell = `tr[data-task="${future.id}"] td.progress`;
    await reads(cell, /"done":1/, 'step 1 of the running task');
    // Load for the throughput chart, once the stepped task holds its slot: awaited before the screenshot.
    load = cluster.map(dash.busy, Array.from({ length: LOAD }, () => 50), { chunksize: 1 });
    writeFileSync(join(dir, 'step-1'), '');
    await reads(cell, /"done":2/, 'step 2 of the running task');
    const width = await page.$eval(`${cell} .bar i`, (i) => (i as unknown as { style: { width: string } }).style.width);
    assert.equal(width, '50%', 'the bar shows 2 of 4');
  });

  test('a dead letter is retried from the page and then completes', async () => {
    // After the load: a worker lists its last 50 attempts, and the load's later ones would push
    // the failed attempt out of them if it ran among them.
    assert.equal((await load).length, LOAD);
    const marker = join(dir, 'marker');
    const failing = cluster.submit(dash.needsMarker, marker);
    await assert.rejects(failing, /marker .* is missing/);
    const row = `tr[data-dead="${failing.id}"]`;
    await shows(`${row} button.retry`, 'the dead letter with its retry button');
    await reads(`${row} td.err`, /is missing/, 'the dead letter\'s error');
    await shows(`tr[data-recent="${failing.id}"][data-state="failed"]`, 'the failed attempt among the recent tasks');
    await reads('[data-total="completed"] .v', new RegExp(`^${LOAD}$`), `the ${LOAD} tasks of the load completed`);
    await shows('#chart-rate polyline', 'the throughput chart');
    await screenshot(page);

    writeFileSync(marker, '');
    await page.click(`${row} button.retry`);
    await shows(`tr[data-recent="${failing.id}"][data-state="done"]`, 'the retried task done among the recent tasks');
    await page.waitForSelector(row, { state: 'detached', timeout: WAIT_MS }).catch(() => {
      throw new Error(`the retried dead letter ${failing.id} stayed on the page`);
    });
    assert.equal(await cluster.result(failing.id), 'recovered', 'its new outcome is the stored one');

    for (let step = 2; step <= 4; step++) writeFileSync(join(dir, `step-${step}`), '');
    assert.equal(await stepped, 4);
    assert.deepEqual(pageErrors, [], 'no script error or CSP violation in the page');
  });

  test('what comes from the cluster is shown as text, never run as markup', async () => {
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => { dialogs.push(dialog.message()); void dialog.dismiss(); });
    const hostile = cluster.submit(dash.needsMarker, join(dir, '<img src=x onerror=alert(1)>'));
    await assert.rejects(hostile);
    const cell = `tr[data-dead="${hostile.id}"] td.err`;
    await reads(cell, /<img src=x onerror=alert\(1\)>/, 'the error with its markup as text');
    assert.equal(await page.$$eval(`${cell} img, #recent img`, (found) => found.length), 0, 'no element was made from it');
    assert.deepEqual(dialogs, []);
    assert.deepEqual(pageErrors, []);
  });
});

/** build/test-artifacts/dashboard.png, copied to docs/ when asked to or when docs/ has none yet. */
async function screenshot(page: Page): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, 'dashboard.png');
  await page.screenshot({ path, fullPage: true });
  if (process.env.WEFT_UPDATE_SCREENSHOT === '1' || !existsSync(DOCS_SCREENSHOT)) copyFileSync(path, DOCS_SCREENSHOT);
}
