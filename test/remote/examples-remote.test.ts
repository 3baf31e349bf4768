import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const example = (name: string) => fileURLToPath(new URL(`../../examples/${name}.js`, import.meta.url));

test('the manager master and worker, started as two programs, square 10 numbers through the queues', async () => {
  const master = spawn(process.execPath, [example('manager-master'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  master.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => master.once('exit', resolve));
  try {
    const port = await new Promise<string>((resolve, reject) => {
      master.stdout.on('data', () => {
        const match = /master serving on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      master.once('exit', (code) => reject(new Error(`the master exited with ${code}: ${out}`)));
    });
    const worker = spawnSync(process.execPath, [example('manager-worker'), '--port', port, '--delay', '0'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(worker.status, 0, worker.stderr);
    assert.equal((worker.stdout.match(/^run task \d+ \* \d+\.\.\.$/gm) ?? []).length, 10);
    assert.match(worker.stdout, /worker exit\./);
    assert.equal(await exited, 0);
    const puts = [...out.matchAll(/^Put task (\d+)\.\.\.$/gm)].map((m) => Number(m[1]));
    const results = [...out.matchAll(/^Result: (\d+) \* (\d+) = (\d+)$/gm)];
    assert.equal(puts.length, 10);
    assert.deepEqual(results.map((r) => Number(r[1])), puts, 'every task came back, in order');
    for (const r of results) assert.equal(Number(r[3]), Number(r[1]) ** 2);
    assert.match(out, /master exit\./);
  } finally {
    master.kill('SIGKILL');
  }
});
