import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '../../src/index.js';
import { tempDir } from '../helpers.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const objects = fileURLToPath(new URL('../../examples/wordcount-objects.js', import.meta.url));
const client = fileURLToPath(new URL('../../examples/rpc-wordcount.js', import.meta.url));

test('weft serve serves a module; the word-count client counts through it from another process; SIGTERM stops it', async () => {
  const keyFile = join(tempDir(), 'key.txt');
  writeFileSync(keyFile, 'cli-secret\n');
  const server = spawn(process.execPath, [cli, 'serve', '--module', objects, '--port', '0', '--authkey-file', keyFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /on (tcp:\/\/[\d.]+:\d+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      server.once('exit', (code) => reject(new Error(`weft serve exited with ${code} before listening`)));
    });
    const remote = await connect<{ countWords(text: string): Map<string, number> }>(url, { authkey: 'cli-secret' });
    assert.deepEqual(await remote.countWords('to be or not to be'), new Map([['to', 2], ['be', 2], ['or', 1], ['not', 1]]));
    await remote.close();
    const run = spawnSync(process.execPath, [client, '--connect', url], { encoding: 'utf8', env: { ...process.env, WEFT_AUTHKEY: 'cli-secret' }, timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /16 chunks counted over tcp:/);
    assert.match(run.stdout, /words: 17500, distinct: 26/);
    const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    server.kill('SIGKILL');
  }
});

test('weft serve without an authkey or module says what is missing', () => {
  const env = { ...process.env };
  delete env.WEFT_AUTHKEY;
  const noKey = spawnSync(process.execPath, [cli, 'serve', '--module', objects], { encoding: 'utf8', env });
  assert.equal(noKey.status, 1);
  assert.match(noKey.stderr, /an authkey is required: pass --authkey-file FILE or set WEFT_AUTHKEY/);
  const noModule = spawnSync(process.execPath, [cli, 'serve'], { encoding: 'utf8', env });
  assert.match(noModule.stderr, /--module FILE is required/);
});

test('weft bench rpc --json measures the three transports side by side', () => {
  const run = spawnSync(process.execPath, [cli, 'bench', 'rpc', '--calls', '200', '--pipelined', '2000', '--window', '100', '--repeats', '1', '--json'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  const data = JSON.parse(run.stdout) as { figures: Record<string, { awaited: number; pipelined: number }> };
  assert.deepEqual(Object.keys(data.figures), ['bare net socket', 'JSON over TCP', 'weft RPC']);
  for (const figures of Object.values(data.figures)) assert.ok(figures.awaited > 0 && figures.pipelined > 0);
});
