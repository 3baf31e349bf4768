import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { spawnWorker, stopWorker } from './helpers.js';

const MASTER = fileURLToPath(new URL('../../examples/cluster-master.js', import.meta.url));
const TASKS = fileURLToPath(new URL('../../examples/cluster-tasks.js', import.meta.url));

test('the cluster example: a master and a `weft worker` started as the README shows', async () => {
  const master = spawn(process.execPath, [MASTER, '--port', '0', '--tasks', '300', '--samples', '2000'], {
    env: { ...process.env, WEFT_AUTHKEY: 'example-key' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  master.stderr!.on('data', (chunk) => { out += chunk; });
  const url = await new Promise<string>((resolve, reject) => {
    master.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (tcp:\/\/\S+);/.exec(out);
      if (match) resolve(match[1]!);
    });
    master.once('exit', () => reject(new Error(`the master exited early:\n${out}`)));
  });
  const worker = spawnWorker(url, 'example-key', ['--tasks', TASKS, '--pool', 'threads', '--concurrency', '2']);
  try {
    const [code] = await once(master, 'exit');
    assert.equal(code, 0, out);
    const pi = Number(/pi = ([\d.]+)/.exec(out)?.[1]);
    assert.ok(Math.abs(pi - Math.PI) < 0.05, out);
    assert.match(out, /joined: .* \(threads x 2\)/);
    assert.match(out, /: 300 tasks/);
  } finally {
    master.kill('SIGKILL');
    await stopWorker(worker);
  }
});
