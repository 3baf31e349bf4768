// `weft bench io` at a reduced size: every row present with sane figures and every body checked;
// bad flags fail before any work; a wrong body fails the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { IoClientConfig, IoClientMessage } from '../../src/bench/io-client.js';
import { splitEvenly } from '../../src/bench/io-client.js';
import { ioBody } from '../../src/bench/io-server.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const clientEntry = fileURLToPath(new URL('../../src/bench/io-client.js', import.meta.url));

interface Row {
  executor: string;
  peer: boolean;
  requests: number;
  runs: number;
  requestsPerSecond: number;
  minRequestsPerSecond: number;
  maxRequestsPerSecond: number;
  p50: number;
  p99: number;
  peakRssMb: number;
  cpuSeconds: number;
  checked: number;
}

interface Report {
  benchmark: string;
  rows: Row[];
  goals: { text: string; met: boolean }[];
}

/** Runs the CLI without blocking the test's event loop (a local server may need to answer). */
function weft(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('weft bench io --json: every executor and both bare clients, sane figures, every body checked', { timeout: 90_000 }, async () => {
  const run = await weft(['bench', 'io', '--requests', '200', '--inline-requests', '20', '--latency', '2', '--concurrency', '50', '--repeats', '2', '--warmup', '0', '--json']);
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout) as Report;
  assert.equal(report.benchmark, 'io');
  assert.deepEqual(report.rows.map((r) => r.executor), ['inline', 'green', 'threads', 'processes', 'cluster', 'http.Agent + p-limit', 'fetch + p-limit']);
  for (const row of report.rows) {
    const what = `${row.executor}: ${JSON.stringify(row)}`;
    assert.equal(row.requests, row.executor === 'inline' ? 20 : 200, what);
    // Two measured rounds (green and the Agent run twice in each), every request's body compared
    // with the one its URL must get.
    assert.equal(row.runs, ['green', 'http.Agent + p-limit'].includes(row.executor) ? 4 : 2, what);
    assert.equal(row.checked, row.runs * row.requests, what);
    assert.ok(row.requestsPerSecond > 0 && Number.isFinite(row.requestsPerSecond), what);
    assert.ok(row.minRequestsPerSecond <= row.requestsPerSecond && row.requestsPerSecond <= row.maxRequestsPerSecond, what);
    // The server waits 2 ms before each answer: no request can be quicker.
    assert.ok(row.p50 >= 2 && row.p50 <= row.p99, what);
    assert.ok(row.peakRssMb > 10 && row.cpuSeconds > 0, what);
    assert.equal(row.peer, row.executor.includes('p-limit'), what);
  }
  // Processes and the cluster add worker processes, whose memory counts in their row.
  const rss = (name: string) => report.rows.find((r) => r.executor === name)!.peakRssMb;
  assert.ok(rss('processes') > rss('green'), `processes ${rss('processes')} MB, green ${rss('green')} MB`);
  // Both goals, each verdict agreeing with the figure its line gives.
  assert.equal(report.goals.length, 2);
  const [ofAgent, ofEventlet] = report.goals;
  const percentOfAgent = Number(/^green: ([\d.]+)% of the bare http\.Agent \+ p-limit client's requests\/s \(goal: >= 95%\)$/.exec(ofAgent!.text)?.[1]);
  assert.ok(Number.isFinite(percentOfAgent), ofAgent!.text);
  assert.equal(ofAgent!.met, percentOfAgent >= 95, ofAgent!.text);
  const timesEventlet = Number(/^green: [\d.]+k? requests\/s, ([\d.]+)x eventlet's 2\.6k \(goal: >= 1\.3x\)$/.exec(ofEventlet!.text)?.[1]);
  assert.ok(Number.isFinite(timesEventlet), ofEventlet!.text);
  assert.equal(ofEventlet!.met, timesEventlet >= 1.3, ofEventlet!.text);
});

test('weft bench io --server inline prints the table with the server inside each client', { timeout: 60_000 }, async () => {
  const run = await weft(['bench', 'io', '--server', 'inline', '--executors', 'green', '--requests', '100', '--latency', '1', '--concurrency', '20', '--repeats', '1', '--warmup', '0']);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /client\s+requests\s+requests\/s\s+spread\s+vs Agent\s+p50 ms\s+p99 ms\s+peak RSS MB\s+CPU s/);
  assert.match(run.stdout, /^green\s+100\s+[\d,.]+/m);
  assert.match(run.stdout, /^http\.Agent \+ p-limit\s+100\s+[\d,.]+\s+\d+%\s+1\.00x/m);
  assert.match(run.stdout, /inside each client's process/);
  assert.match(run.stdout, /every response body was checked \(500 in all\)/);
});

test('bad flag values fail with one line before any work', () => {
  const cases: [string[], RegExp][] = [
    // A value starting with a dash is given with `=` (parseArgs would take -1 for a flag).
    [['--latency=-1'], /--latency expects a non-negative integer, got "-1"/],
    [['--requests', 'lots'], /--requests expects a positive integer, got "lots"/],
    [['--concurrency', '0'], /--concurrency expects a positive integer, got "0"/],
    [['--server', 'remote'], /--server expects child or inline, got "remote"/],
    [['--executors', 'green,warp'], /--executors expects some of inline, green, threads, processes, cluster, got "green,warp"/],
  ];
  for (const [args, message] of cases) {
    const run = spawnSync(process.execPath, [cli, 'bench', 'io', ...args], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 2, `${args.join(' ')}: exit ${run.status} (a usage error is 2)`);
    assert.match(run.stderr, message);
    // Nothing ran: no table, no progress, no worker's log line.
    assert.equal(run.stdout, '', `${args.join(' ')} printed ${run.stdout}`);
    assert.doesNotMatch(run.stderr, /joined|run \d/);
  }
});

test('a response with the wrong body fails the row instead of being counted', { timeout: 30_000 }, async () => {
  // Right bodies except item 3's.
  const server = createServer((request, response) => {
    const n = Number(/\/item\/(\d+)$/.exec(request.url ?? '')?.[1]);
    response.end(n === 3 ? ioBody(4) : ioBody(n));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const config: IoClientConfig = {
    kind: 'green', origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, latency: 0, requests: 10, concurrency: 4, workers: 1,
  };
  const child = fork(clientEntry, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies: IoClientMessage[] = [];
  const reply = () => new Promise<IoClientMessage>((resolve, reject) => {
    child.once('message', (message) => resolve(message as IoClientMessage));
    child.once('exit', (code) => reject(new Error(`the client exited (code ${code}) before replying`)));
  });
  try {
    replies.push(await reply());
    child.send({ type: 'run' });
    replies.push(await reply());
  } finally {
    child.disconnect();
    server.close();
  }
  assert.equal(replies[0]!.type, 'ready');
  assert.deepEqual(replies[1], { type: 'error', message: `request 3 got the wrong body: ${JSON.stringify(ioBody(4))}` });
});

test('splitEvenly cuts the URLs into one consecutive share per worker', () => {
  const items = Array.from({ length: 10 }, (_, i) => i);
  assert.deepEqual(splitEvenly(items, 3), [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]);
  assert.deepEqual(splitEvenly([1, 2], 4), [[1], [2]]);
  assert.deepEqual(splitEvenly(items, 1), [items]);
});

test('each item has a body of its own', () => {
  const bodies = new Set(Array.from({ length: 5000 }, (_, i) => ioBody(i)));
  assert.equal(bodies.size, 5000);
  assert.match(ioBody(7), /^weft io item 7 /);
});
