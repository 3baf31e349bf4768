import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AuthenticationError, connect, openBroker, type Message } from '../../src/index.js';
import { serveBroker, type BrokerSession } from '../../src/broker/weft-server.js';
import { until } from '../helpers.js';

test('weft://: a wrong authkey is an AuthenticationError and the broker keeps serving; a missing one is a TypeError', async (t) => {
  const server = await serveBroker({ port: 0, authkey: 'right' });
  t.after(() => server.close());
  await assert.rejects(openBroker(`weft://:wrong@127.0.0.1:${server.port}`), AuthenticationError);
  const saved = process.env.WEFT_AUTHKEY;
  delete process.env.WEFT_AUTHKEY;
  try {
    await assert.rejects(openBroker(`weft://127.0.0.1:${server.port}`), /needs the authkey/);
  } finally {
    if (saved !== undefined) process.env.WEFT_AUTHKEY = saved;
  }
  await using broker = await openBroker(`weft://:right@127.0.0.1:${server.port}`);
  await broker.consume('double', (message: Message<number>) => message.body * 2);
  assert.equal(await broker.request('double', 21, { timeout: 5000 }), 42);
  assert.equal(server.stats.refused, 1);
});

test('a session refuses settling a delivery it does not hold, and bad arguments, with clear errors', async (t) => {
  const server = await serveBroker({ port: 0, authkey: 'k' });
  t.after(() => server.close());
  const root = await connect<{ open(): BrokerSession }>(server.url, { authkey: 'k' });
  t.after(() => root.close());
  const session = await root.open();
  await assert.rejects(session.settle(12345, null), /no unsettled delivery #12345/);
  await assert.rejects(session.publish('', new Uint8Array(1), {}), /queue/);
  await assert.rejects(session.publish('q', 'not bytes' as never, {}), /payload/);
  await assert.rejects(session.consume('q', 0, {} as never), /prefetch/);
});

test('weft broker started with an IPC channel exits when the program that started it is SIGKILLed (no orphan server)', async () => {
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  // A parent that starts `weft broker` with an IPC channel, says the broker's pid once it
  // listens, and then just waits to be killed.
  const parentScript = `
    const { spawn } = require('node:child_process');
    const broker = spawn(process.execPath, [${JSON.stringify(cli)}, 'broker', '--port', '0'], { env: { ...process.env, WEFT_AUTHKEY: 'k' }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    broker.stdout.on('data', (chunk) => { if (/listening on/.test(String(chunk))) console.log('broker pid ' + broker.pid); });
    setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ['-e', parentScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  let brokerPid = 0;
  try {
    brokerPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /broker pid (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      parent.once('exit', (code) => reject(new Error(`the parent exited with ${code} before its broker listened`)));
    });
    parent.kill('SIGKILL');
    const alive = () => { try { process.kill(brokerPid, 0); return true; } catch { return false; } };
    await until(() => !alive(), 10_000, `weft broker (pid ${brokerPid}) to exit after its parent was SIGKILLed`);
  } finally {
    parent.kill('SIGKILL');
    if (brokerPid) try { process.kill(brokerPid, 'SIGKILL'); } catch { /* gone, as it should be */ }
  }
});

test('weft broker runs a broker until SIGTERM; a program talks to it through a weft:// URL', async () => {
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'broker', '--port', '0'], { env: { ...process.env, WEFT_AUTHKEY: 'cli key' }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on tcp:\/\/([\d.]+:\d+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`weft broker exited with ${code} before listening`)));
    });
    const url = `weft://:${encodeURIComponent('cli key')}@${address}`;
    const [producer, consumer] = [await openBroker(url), await openBroker(url)];
    await consumer.consume('upper', (message: Message<string>) => message.body.toUpperCase());
    assert.equal(await producer.request('upper', 'shout', { timeout: 5000 }), 'SHOUT');
    await producer.close();
    await consumer.close();
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
  }
});
