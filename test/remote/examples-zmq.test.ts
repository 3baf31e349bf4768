// examples/zmq-wordcount: the articles' ZeroMQ word count, in one process and as two programs
// (`weft serve --zmq` in one shell, the client in another).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const objects = fileURLToPath(new URL('../../examples/wordcount-objects.js', import.meta.url));
const client = fileURLToPath(new URL('../../examples/zmq-wordcount.js', import.meta.url));

function runClient(args: string[], authkey?: string): string {
  const env = authkey ? { ...process.env, WEFT_AUTHKEY: authkey } : process.env;
  const run = spawnSync(process.execPath, [client, ...args], { encoding: 'utf8', env, timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

test('the ZeroMQ word count counts every word with its own server, in one process', () => {
  const out = runClient([]);
  assert.match(out, /16 chunks counted over zmq\+tcp:\/\/127\.0\.0\.1:\d+/);
  assert.match(out, /words: 17500, distinct: 26/);
  assert.match(out, /^it {7}2500$/m);
});

test('the ZeroMQ word count against `weft serve --zmq` in another process; SIGTERM stops the server', async () => {
  const keyFile = join(tempDir(), 'key.txt');
  writeFileSync(keyFile, 'zmq-secret\n');
  const server = spawn(process.execPath, [cli, 'serve', '--zmq', '--module', objects, '--port', '0', '--authkey-file', keyFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /on (zmq\+tcp:\/\/[\d.]+:\d+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      server.once('exit', (code) => reject(new Error(`weft serve --zmq exited with ${code} before listening: ${out}`)));
    });
    const out = runClient(['--connect', url], 'zmq-secret');
    assert.match(out, new RegExp(`16 chunks counted over ${url.replace(/[+.]/g, '\\$&')}`));
    assert.match(out, /words: 17500, distinct: 26/);
    const wrong = spawnSync(process.execPath, [client, '--connect', url], { encoding: 'utf8', env: { ...process.env, WEFT_AUTHKEY: 'not-it' }, timeout: 30_000 });
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /AuthenticationError: the server refused the connection: authentication failed: the authkey does not match/);
    const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    server.kill('SIGKILL');
  }
});
