// The dashboard's HTTP side without a browser: the token, the same-origin rule, the event stream
// and the actions, on a broker-backed cluster (memory://, workers in this process) and on an
// embedded scheduler read over its STATUS frame.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CancelledError, ClusterExecutor, serveDashboard, type Dashboard } from '../../src/index.js';
import { deriveToken } from '../../src/dashboard/auth.js';
import { tempDir } from '../helpers.js';
import { CLI } from '../cluster/helpers.js';
import { startWorker, type FleetWorker } from '../durable/fleet.js';
import dash from './dashboard-tasks.js';
import { post, snapshotWhere } from './helpers.js';

const TASKS = fileURLToPath(new URL('./dashboard-tasks.js', import.meta.url));

describe('the dashboard over HTTP, on a broker-backed cluster (memory://)', () => {
  const broker = `memory://dashboard-api-${randomBytes(4).toString('hex')}`;
  const queue = 'jobs';
  const cluster = new ClusterExecutor({ broker, queue });
  const workers: FleetWorker[] = [];
  let dashboard: Dashboard;
  let base: string;
  const auth = () => ({ authorization: `Bearer ${dashboard.token}` });

  after(async () => {
    await dashboard?.close();
    await cluster.shutdown({ cancelPending: true });
    await Promise.all(workers.map((w) => w.stop()));
  });

  test('serves from a ClusterExecutor; without the token, or with a wrong one, the answer is 401 and nothing else', async () => {
    const worker = await startWorker(broker, { queues: [queue], tasks: [TASKS], concurrency: 2 });
    workers.push(worker);
    await worker.ready;
    dashboard = await serveDashboard({ cluster, port: 0, interval: 200, authkey: 'dashboard secret' });
    base = `http://127.0.0.1:${dashboard.port}`;
    assert.equal(dashboard.host, '127.0.0.1', 'loopback unless told otherwise');
    assert.equal(dashboard.token, deriveToken('dashboard secret'), 'the token is derived from the authkey');
    assert.notEqual(dashboard.token, deriveToken('another secret'));
    assert.ok(!dashboard.token.includes('dashboard secret'));
    for (const [path, headers] of [
      ['/', {}], ['/api/snapshot', {}], ['/events', {}], ['/nowhere', {}],
      ['/api/snapshot', { authorization: 'Bearer wrong' }],
      ['/api/snapshot', { authorization: `Bearer ${deriveToken('another secret')}` }],
      ['/api/snapshot', { cookie: `weft_dashboard_${dashboard.port}=wrong` }],
      ['/api/snapshot?token=wrong', {}],
    ] as Array<[string, Record<string, string>]>) {
      const response = await fetch(new URL(path, base), { headers, redirect: 'manual' });
      assert.equal(response.status, 401, `${path} with ${JSON.stringify(headers)}`);
      assert.deepEqual(await response.json(), { error: 'unauthorized' });
      assert.equal(response.headers.get('set-cookie'), null);
    }
    const refused = await post(base, '/api/retry', { id: 'x' }, {});
    assert.equal(refused.status, 401);
    const viaQuery = await fetch(new URL(`/api/retry?token=${dashboard.token}`, base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"x"}' });
    assert.equal(viaQuery.status, 401, 'a POST must carry the token in a header or the cookie, not the URL');
    const snapshot = await fetch(new URL('/api/snapshot', base), { headers: auth() });
    assert.equal(snapshot.status, 200);
    assert.ok(Array.isArray(((await snapshot.json()) as { workers: unknown }).workers));
  });

  test('the printed URL sets an HttpOnly cookie and sends the browser to /, which the cookie opens', async () => {
    const first = await fetch(dashboard.url, { redirect: 'manual' });
    assert.equal(first.status, 303);
    assert.equal(first.headers.get('location'), '/');
    const cookie = first.headers.get('set-cookie')!;
    assert.match(cookie, new RegExp(`^weft_dashboard_${dashboard.port}=${dashboard.token}; HttpOnly; SameSite=Strict`));
    const page = await fetch(new URL('/', base), { headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy')!, /default-src 'none'; script-src 'nonce-/);
    const html = await page.text();
    assert.match(html, /<title>weft dashboard<\/title>/);
    assert.match(html, /new EventSource\('\/events'\)/);
    assert.ok(!/<script[^>]+src=|<link[^>]+href=|(src|href)=["']?https?:|@import|url\(/.test(html), 'no external script, style or CDN');
  });

  test('actions refuse another origin, a body that is not JSON, and bad arguments', async () => {
    const cross = await post(base, '/api/drain', { worker: 'x' }, { ...auth(), origin: 'http://evil.example' });
    assert.equal(cross.status, 403);
    const crossSite = await post(base, '/api/drain', { worker: 'x' }, { ...auth(), 'sec-fetch-site': 'cross-site' });
    assert.equal(crossSite.status, 403);
    const form = await fetch(new URL('/api/drain', base), { method: 'POST', headers: { ...auth(), 'content-type': 'application/x-www-form-urlencoded' }, body: 'worker=x' });
    assert.equal(form.status, 415);
    assert.equal((await post(base, '/api/revoke', { nothing: 1 }, auth())).status, 400);
    assert.equal((await post(base, '/api/drain', { worker: 'nobody' }, auth())).status, 404);
    assert.equal((await post(base, '/api/retry', { id: 'none', queue }, auth())).status, 404);
    const same = await post(base, '/api/drain', { worker: 'nobody' }, { ...auth(), origin: base, 'sec-fetch-site': 'same-origin' });
    assert.equal(same.status, 404, 'the page\'s own origin passes the check');
  });

  test('the event stream shows the worker, a running task\'s progress moving, then the task among the recent ones', async () => {
    const dir = tempDir('weft-dash-');
    const future = cluster.submit(dash.stepped, dir, 3);
    const first = await snapshotWhere(base, dashboard.token, (s) => s.running.some((t) => t.id === future.id && (t.progress as any)?.done === 1), 'the task runs at step 1');
    assert.equal(first.workers.length, 1);
    assert.equal(first.workers[0]!.pid, process.pid);
    assert.ok(first.queues.some((q) => q.queue === queue));
    assert.equal(first.running.find((t) => t.id === future.id)!.task, 'dash.stepped');
    writeFileSync(join(dir, 'step-1'), '');
    await snapshotWhere(base, dashboard.token, (s) => s.running.some((t) => t.id === future.id && (t.progress as any)?.done === 2), 'the task moved to step 2');
    writeFileSync(join(dir, 'step-2'), '');
    writeFileSync(join(dir, 'step-3'), '');
    assert.equal(await future, 3);
    const done = await snapshotWhere(base, dashboard.token, (s) => s.recent.some((t) => t.id === future.id), 'the task is among the recent ones');
    const row = done.recent.find((t) => t.id === future.id)!;
    assert.equal(row.state, 'done');
    assert.ok(row.finishedAt! >= row.startedAt);
    assert.ok(!done.running.some((t) => t.id === future.id));
    assert.ok(done.workers[0]!.completed >= 1);
  });

  test('revoke cancels a running task; drain stops a worker taking work', async () => {
    const future = cluster.submit(dash.untilRevoked);
    await snapshotWhere(base, dashboard.token, (s) => s.running.some((t) => t.id === future.id), 'the task runs');
    assert.deepEqual(await post(base, '/api/revoke', { id: future.id }, auth()), { status: 200, body: { ok: true } });
    await assert.rejects(future, CancelledError);
    const name = (await snapshotWhere(base, dashboard.token, (s) => s.workers.length === 1, 'one worker')).workers[0]!.key;
    assert.deepEqual(await post(base, '/api/drain', { worker: name }, auth()), { status: 200, body: { ok: true } });
    await workers[0]!.exited; // a drained worker finishes what it holds and stops
    await snapshotWhere(base, dashboard.token, (s) => s.workers.length === 0, 'the drained worker is gone');
  });
});

describe('the dashboard of an embedded scheduler (--connect)', () => {
  test('shows its workers, counters and tasks (running with progress, recent with errors); revoke and drain over the connection; says why retry is not offered', async () => {
    const authkey = randomBytes(16).toString('hex');
    // Two slots: the failing task runs while the stepped one waits for its markers.
    await using cluster = new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey, localWorkers: 1, localConcurrency: 2 });
    await cluster.start();
    assert.equal(await cluster.submit(dash.square, 7), 49);
    await using dashboard = await serveDashboard({ connect: cluster.url, authkey, port: 0, interval: 200 });
    assert.equal(dashboard.token, deriveToken(authkey));
    const base = `http://127.0.0.1:${dashboard.port}`;
    const auth = { authorization: `Bearer ${dashboard.token}` };
    const dir = tempDir('weft-dash-embedded-');
    const stepped = cluster.submit(dash.stepped, dir, 2);
    const snapshot = await snapshotWhere(base, dashboard.token, (s) => s.workers.length === 1 && s.totals.completed >= 1
      && s.running.some((t) => t.id === stepped.id && (t.progress as any)?.done === 1), 'the local worker, the finished task and the stepped one at step 1');
    assert.equal(snapshot.source, cluster.url);
    assert.equal(snapshot.queues[0]!.queue, 'scheduler');
    const row = snapshot.running.find((t) => t.id === stepped.id)!;
    assert.deepEqual([row.task, row.attempt, row.worker, row.state], ['dash.stepped', 1, snapshot.workers[0]!.name, 'running']);
    assert.deepEqual([snapshot.capabilities.tasks, snapshot.capabilities.revoke, snapshot.capabilities.drain], [true, true, true]);
    assert.equal(typeof snapshot.capabilities.retry, 'string', 'retry says why not');
    // A failed attempt is among the recent tasks with its error.
    await assert.rejects(cluster.submit(dash.needsMarker, join(dir, 'absent')), /the marker .* is missing/);
    const failed = await snapshotWhere(base, dashboard.token, (s) => s.recent.some((t) => t.task === 'dash.needsMarker'), 'the failed task among the recent ones');
    const recent = failed.recent.find((t) => t.task === 'dash.needsMarker')!;
    assert.equal(recent.state, 'failed');
    assert.match(recent.error!, /^Error: the marker .* is missing/);
    assert.ok(recent.finishedAt! >= recent.startedAt);
    // Revoke over the scheduler connection: the future is cancelled, the worker aborts the task.
    assert.deepEqual(await post(base, '/api/revoke', { id: stepped.id }, auth), { status: 200, body: { ok: true } });
    await assert.rejects(stepped, CancelledError);
    await snapshotWhere(base, dashboard.token, (s) => !s.running.some((t) => t.id === stepped.id) && s.workers[0]?.inFlight === 0, 'the revoked task gone from the worker');
    assert.equal((await post(base, '/api/revoke', { id: stepped.id }, auth)).status, 404, 'a task no worker runs');
    // Drain over the scheduler connection (DRAIN_WORKER): it sends that worker nothing new.
    assert.equal((await post(base, '/api/drain', { worker: '999' }, auth)).status, 404, 'a worker not connected');
    assert.deepEqual(await post(base, '/api/drain', { worker: snapshot.workers[0]!.key }, auth), { status: 200, body: { ok: true } });
    await snapshotWhere(base, dashboard.token, (s) => s.workers[0]?.state === 'draining', 'the worker draining');
    assert.equal(cluster.workers()[0]!.state, 'draining');
  });

  test('served from the submitting process, drain stops the scheduler sending a worker work', async () => {
    await using cluster = new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey: 'k', localWorkers: 1 });
    await cluster.start();
    await using dashboard = await serveDashboard({ cluster, port: 0, interval: 200 });
    const base = `http://127.0.0.1:${dashboard.port}`;
    const before = await snapshotWhere(base, dashboard.token, (s) => s.workers.length === 1, 'the local worker');
    assert.equal(before.capabilities.drain, true);
    assert.equal(before.workers[0]!.state, 'ready');
    const headers = { authorization: `Bearer ${dashboard.token}` };
    assert.equal((await post(base, '/api/drain', { worker: '999' }, headers)).status, 404);
    assert.deepEqual(await post(base, '/api/drain', { worker: before.workers[0]!.key }, headers), { status: 200, body: { ok: true } });
    await snapshotWhere(base, dashboard.token, (s) => s.workers[0]?.state === 'draining', 'the worker draining');
    assert.equal(cluster.workers()[0]!.state, 'draining');
  });

  test('bad options are TypeErrors that say what was expected', async () => {
    await assert.rejects(serveDashboard({} as never), { name: 'TypeError', message: /exactly one of cluster, connect or broker; got none/ });
    await assert.rejects(serveDashboard({ broker: 'memory://x', connect: 'tcp://127.0.0.1:1' } as never), { name: 'TypeError', message: /got connect and broker/ });
    await assert.rejects(serveDashboard({ connect: 'tcp://127.0.0.1:1' }), { name: 'TypeError', message: /needs the cluster's authkey/ });
    await assert.rejects(serveDashboard({ broker: 'not a url' }), { name: 'TypeError', message: /Expected `broker` to be a broker URL/ });
    await assert.rejects(serveDashboard({ broker: 'memory://x', port: -1 }), { name: 'RangeError' });
    await assert.rejects(serveDashboard({ broker: 'memory://x', authkey: '' }), { name: 'TypeError', message: /authkey/ });
  });
});

describe('weft dashboard', () => {
  test('prints the URL with its token once and serves the page until SIGTERM', async () => {
    const child = execFile(process.execPath, [CLI, 'dashboard', '--broker', 'memory://cli-dashboard', '--port', '0', '--interval', '200'], { env: { ...process.env, WEFT_AUTHKEY: 'cli secret' } });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk: string) => {
        out += chunk;
        const match = /weft dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      child.on('exit', (code) => reject(new Error(`weft dashboard exited (${code}) before printing its URL: ${out}`)));
    });
    assert.ok(url.endsWith(`token=${deriveToken('cli secret')}`));
    const snapshot = await fetch(new URL('/api/snapshot', url), { headers: { authorization: `Bearer ${deriveToken('cli secret')}` } });
    assert.equal(snapshot.status, 200);
    assert.equal(((await snapshot.json()) as { source: string }).source, 'memory://cli-dashboard');
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(out.match(/token=/g)!.length, 1, 'the token is printed once');
  });
});
