import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, createServer, Socket, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAccepted, type ChunkReader } from '../../src/remote/reader.js';

test('readAccepted: an accepted socket reads through a lent buffer, early reads are kept as copies, and the server still closes', async (t) => {
  const accepted: { socket: Socket; reader: ChunkReader; original: Socket }[] = [];
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    const result = readAccepted(socket);
    assert.ok(result, 'the handle is adoptable on this Node');
    accepted.push({ ...result, original: socket });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = netConnect((server.address() as AddressInfo).port, '127.0.0.1');
  t.after(() => client.destroy());
  await once(client, 'connect');
  client.write('first ');
  while (accepted.length === 0) await sleep(5);
  const { socket, reader, original } = accepted[0]!;
  assert.equal(original.destroyed, true, 'the accepted Socket gave up its handle');
  await sleep(50); // 'first ' is read before anyone listens: it must wait, copied

  const received: string[] = [];
  const buffers = new Set<Buffer>();
  const ended = new Promise<void>((resolve) => {
    reader.listen((buffer, bytes) => {
      buffers.add(buffer);
      received.push(buffer.toString('utf8', 0, bytes));
      if (received.join('').endsWith('end')) resolve();
    });
  });
  client.write('second ');
  await sleep(20);
  client.write('third end');
  await ended;
  assert.equal(received.join(''), 'first second third end');
  assert.equal(buffers.size, 2, 'one copy for the early read, then the same lent buffer for every later read');

  socket.end('ok');
  const [answer] = await once(client, 'data');
  assert.equal(String(answer), 'ok');
  client.end();
  // close() calls back only once the server no longer counts the accepted connection.
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

test('readAccepted leaves a socket without a usable handle alone', () => {
  const socket = new Socket();
  assert.equal(readAccepted(socket), undefined);
  assert.equal(socket.destroyed, false);
});
