import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const example = fileURLToPath(new URL('../../examples/broker-wordcount.js', import.meta.url));

function runClient(...args: string[]) {
  const run = spawnSync(process.execPath, [example, ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

test('the broker word count counts every word, in one process, on every broker', () => {
  for (const url of ['memory://example', 'amqp://guest:guest@127.0.0.1:5672', 'redis://127.0.0.1:6379', 'nats://127.0.0.1:4222']) {
    const out = runClient('--url', url);
    assert.match(out, new RegExp(`16 chunks counted over ${url.split(':')[0]}`), url);
    assert.match(out, /words: 17500, distinct: 26/, url);
  }
});

test('the broker word count with a worker process and a client process, as from two shells', async (t) => {
  const url = 'amqp://guest:guest@127.0.0.1:5672';
  const worker = spawn(process.execPath, [example, '--worker', '--url', url], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => worker.kill('SIGKILL'));
  const [ready] = await once(worker.stdout, 'data');
  assert.match(String(ready), /counting words from weft-example.wordcount/);
  const out = runClient('--client', '--url', url);
  assert.match(out, /words: 17500, distinct: 26/);
  worker.kill('SIGINT');
  const [code] = await once(worker, 'exit');
  assert.equal(code, 0, 'the worker stops cleanly on Ctrl-C');
});
