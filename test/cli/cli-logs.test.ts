// `weft worker` logs for a person: timestamped lines with a level on stderr (or one JSON object
// per line), and a scheduler that is away is reported once, not once per retry, then once more
// when the worker gets through.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterExecutor } from '../../src/index.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const TASKS = join(fileURLToPath(new URL('../fixtures/', import.meta.url)), 'cluster-tasks.js');
const KEY = 'logs-key';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `weft worker` with its stderr collected; `waitFor` resolves when stderr passes `check`. */
function worker(port: number, extra: string[]): { child: ChildProcess; stderr: () => string; waitFor: (check: (text: string) => boolean, what: string) => Promise<void> } {
  const child = spawn(process.execPath, [CLI, 'worker', '--connect', `tcp://127.0.0.1:${port}`, '--tasks', TASKS, '--pool', 'inline', ...extra], {
    env: { ...process.env, WEFT_AUTHKEY: KEY }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters: (() => void)[] = [];
  child.stderr!.on('data', (chunk: Buffer) => { text += chunk; for (const wake of waiters) wake(); });
  child.stdout!.resume();
  const waitFor = (check: (text: string) => boolean, what: string) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`waited 20 s for weft worker to log ${what}; its stderr:\n${text}`)), 20_000);
    const wake = () => { if (check(text)) { clearTimeout(timer); resolve(); } };
    waiters.push(wake);
    wake();
  });
  return { child, stderr: () => text, waitFor };
}

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) weft worker: /;

describe('weft worker logs', () => {
  test('an unreachable scheduler is reported once, retried with backoff quietly, and its return once', async () => {
    const port = await freePort();
    const w = worker(port, ['--log-level', 'debug']);
    try {
      // Three failed attempts (the later ones at debug level only), then the scheduler comes up.
      await w.waitFor((text) => /still cannot reach .*\(attempt 3\)/.test(text), 'its third failed attempt');
      await using cluster = new ClusterExecutor({ listen: { host: '127.0.0.1', port }, authkey: KEY });
      const joined = new Promise<void>((resolve) => cluster.on('worker-joined', () => resolve()));
      await cluster.start();
      await joined;
      await w.waitFor((text) => /INFO  weft worker: joined /.test(text), 'that it joined');
      const lines = w.stderr().trim().split('\n');
      for (const line of lines) assert.match(line, LINE);
      const warnings = lines.filter((line) => line.includes(' WARN '));
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, new RegExp(`cannot reach tcp://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*; retrying with backoff \\(at most every 5 s\\)`));
      assert.ok(lines.filter((line) => line.includes(' DEBUG ') && line.includes('still cannot reach')).length >= 2);
      assert.equal(lines.filter((line) => /INFO  weft worker: reached tcp:\/\/\S+ again after \d+ failed attempt\(s\)/.test(line)).length, 1);
    } finally {
      w.child.kill('SIGKILL');
    }
  });

  test('at the default level the retries are silent; --log-format json writes one object per line', async () => {
    const port = await freePort();
    const text = worker(port, []);
    const json = worker(port, ['--log-format', 'json', '--log-level', 'warn']);
    // Started with them: once it has failed four times, the others have retried too.
    const debug = worker(port, ['--log-level', 'debug']);
    try {
      await Promise.all([
        text.waitFor((t) => /cannot reach/.test(t), 'that it cannot reach the scheduler'),
        json.waitFor((t) => /cannot reach/.test(t), 'that it cannot reach the scheduler (json)'),
        debug.waitFor((t) => /still cannot reach .*\(attempt 4\)/.test(t), 'its fourth failed attempt'),
      ]);
      assert.equal(text.stderr().trim().split('\n').filter((line) => /cannot reach/.test(line)).length, 1, text.stderr());
      assert.doesNotMatch(text.stderr(), /still cannot reach/);
      const objects = json.stderr().trim().split('\n').map((line) => JSON.parse(line) as { time: string; level: string; msg: string });
      assert.ok(objects.length >= 1);
      for (const object of objects) {
        assert.ok(!Number.isNaN(Date.parse(object.time)), object.time);
        assert.ok(['warn', 'error'].includes(object.level), `below warn was dropped: ${object.level}`);
      }
      assert.match(objects.find((o) => o.msg.includes('cannot reach'))!.msg, /^weft worker: cannot reach tcp:/);
    } finally {
      for (const w of [text, json, debug]) w.child.kill('SIGKILL');
    }
  });
});
