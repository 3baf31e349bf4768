import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthenticationError, connect, ConnectionClosedError, serve } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { SilentSockets } from './raw-peer.js';

/** A self-signed certificate for 127.0.0.1, made with openssl; undefined where openssl is missing. */
function selfSigned(): { key: Buffer; cert: Buffer } | undefined {
  const dir = tempDir('weft-tls-');
  const run = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { encoding: 'utf8' });
  if (run.error || run.status !== 0) return undefined;
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

const pair = selfSigned();

test('TLS: calls work inside TLS, the authkey handshake still runs, an untrusted certificate is refused', { skip: pair ? false : 'openssl is not installed' }, async () => {
  const { key, cert } = pair!;
  const server = await serve({ authkey: 'tls-key', tls: { key, cert }, expose: { hello: (name: string) => `hello ${name}` } });
  assert.match(server.url, /^tls:\/\/127\.0\.0\.1:\d+$/);
  const remote = await connect<{ hello(name: string): string }>(server.url, { authkey: 'tls-key', tls: { ca: cert } });
  assert.equal(await remote.hello('tls'), 'hello tls');
  await remote.close();
  await assert.rejects(connect(server.url, { authkey: 'wrong', tls: { ca: cert } }), AuthenticationError);
  await assert.rejects(connect(server.url, { authkey: 'tls-key' }), (error: unknown) =>
    error instanceof ConnectionClosedError && /could not connect to tls:\/\/127\.0\.0\.1:\d+: self.signed certificate/i.test(error.message));
  await server.close();
});

test('TLS: sockets that never start TLS are in the handshake budget; a client with the key still gets in', { skip: pair ? false : 'openssl is not installed' }, async () => {
  const { key, cert } = pair!;
  const server = await serve({ authkey: 'tls-key', tls: { key, cert }, expose: { hello: (name: string) => `hello ${name}` },
    maxHandshakes: 8, maxHandshakesPerAddress: 4, handshakeGrace: 0, handshakeTimeoutUnderPressure: 5000 });
  const silent = new SilentSockets(server.port);
  try {
    await silent.add(10);
    await silent.serverClosed(6); // before any TLS byte: the budget counts from the TCP accept
    assert.equal(server.stats.handshaking, 4);
    const remote = await connect<{ hello(name: string): string }>(server.url, { authkey: 'tls-key', tls: { ca: cert } });
    assert.equal(await remote.hello('budget'), 'hello budget');
    await remote.close();
    assert.equal(server.stats.accepted, 1);
    assert.equal(server.stats.refusedBy.handshakes, 7); // the client's TCP socket took the oldest silent one's place
    assert.equal(server.stats.handshaking, 3);
  } finally {
    await silent.close();
    await server.close();
  }
});
