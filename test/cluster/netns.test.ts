import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { CLI, FIXTURES } from './helpers.js';

/**
 * Three hosts on one machine: the scheduler and two `weft worker`s, each in a network namespace
 * of its own, the scheduler joined to each worker by a veth link (169.254.77.0/30 and
 * 169.254.78.0/30, link-local, inside namespaces this test makes and deletes). Mid-run the
 * scheduler takes its end of worker 1's link down: no FIN, no RST, just silence, so only the
 * lease can tell. Every task must still complete, once.
 */
const SCHEDULER = fileURLToPath(new URL('./netns-scheduler.js', import.meta.url));
const KEY = 'netns-test';
const PORT = 7077;
const TASKS = 600;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Creates the namespaces and links; returns why it cannot when it cannot. */
function setUp(id: string): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root';
  try {
    for (const ns of ['s', 'a', 'b']) {
      ip('netns', 'add', `weft${ns}-${id}`);
      ip('-n', `weft${ns}-${id}`, 'link', 'set', 'lo', 'up');
    }
    for (const [w, subnet] of [['a', 77], ['b', 78]] as const) {
      ip('link', 'add', `s${w}-${id}`, 'netns', `wefts-${id}`, 'type', 'veth', 'peer', 'name', `w${w}-${id}`, 'netns', `weft${w}-${id}`);
      ip('-n', `wefts-${id}`, 'addr', 'add', `169.254.${subnet}.1/30`, 'dev', `s${w}-${id}`);
      ip('-n', `weft${w}-${id}`, 'addr', 'add', `169.254.${subnet}.2/30`, 'dev', `w${w}-${id}`);
      ip('-n', `wefts-${id}`, 'link', 'set', `s${w}-${id}`, 'up');
      ip('-n', `weft${w}-${id}`, 'link', 'set', `w${w}-${id}`, 'up');
    }
    return undefined;
  } catch (error) {
    tearDown(id);
    return `cannot create network namespaces here: ${(error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message}`;
  }
}

function tearDown(id: string): void {
  for (const ns of ['s', 'a', 'b']) {
    try {
      ip('netns', 'del', `weft${ns}-${id}`); // takes its veth ends with it
    } catch {
      // never created
    }
  }
}

function inNamespace(ns: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { env: { ...process.env, WEFT_AUTHKEY: KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
}

test('hosts in network namespaces: a worker whose link is cut mid-run loses its lease and every task completes once', { timeout: 90_000 }, async (t) => {
  const id = randomBytes(3).toString('hex');
  const reason = setUp(id);
  if (reason) {
    console.log(`skipping the network-namespace test: ${reason}`);
    t.skip(reason);
    return;
  }
  const children: ChildProcess[] = [];
  let log = '';
  try {
    const scheduler = inNamespace(`wefts-${id}`, [SCHEDULER, String(PORT), String(TASKS), `sa-${id}`]);
    children.push(scheduler);
    scheduler.stderr!.on('data', (chunk) => { log += chunk; });
    // One iterator for the whole run: leaving a for-await loop would close the interface.
    const lines = createInterface({ input: scheduler.stdout! })[Symbol.asyncIterator]();
    const events: Record<string, any>[] = [];
    const next = async (event: string): Promise<Record<string, any>> => {
      for (let step = await lines.next(); !step.done; step = await lines.next()) {
        const line = step.value;
        log += `${line}\n`;
        const parsed = JSON.parse(line) as Record<string, any>;
        events.push(parsed);
        if (parsed.event === event) return parsed;
        if (parsed.event === 'gave-up') break;
      }
      throw new Error(`the scheduler ended before "${event}":\n${log}`);
    };
    await next('listening');
    for (const [w, subnet] of [['a', 77], ['b', 78]] as const) {
      const worker = inNamespace(`weft${w}-${id}`, [CLI, 'worker', '--connect', `tcp://169.254.${subnet}.1:${PORT}`, '--tasks', join(FIXTURES, 'cluster-tasks.js'), '--pool', 'green', '--concurrency', '2', '--name', `worker-${w}`]);
      worker.stdout!.on('data', (chunk) => { log += chunk; });
      worker.stderr!.on('data', (chunk) => { log += chunk; });
      children.push(worker);
    }
    const joined = await next('joined');
    assert.deepEqual([...joined.workers].sort(), ['worker-a', 'worker-b']);
    const cut = await next('cut');
    assert.ok(cut.done >= TASKS / 3);
    const summary = await next('summary');
    assert.equal(summary.wrong, 0, log);
    assert.equal(summary.settledOnce, true);
    assert.equal(summary.completed, TASKS);
    assert.equal(summary.deadLetters, 0);
    assert.ok(summary.lost.some((line: string) => /^worker-a: its lease expired/.test(line)), `worker-a was not lost by its lease: ${summary.lost}`);
    assert.ok(summary.redelivered > 0, 'nothing was moved off the cut worker');
    assert.equal(summary.pids, 2, 'both workers ran tasks');
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
    tearDown(id);
  }
});
