import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../../src/index.js';
import { openBroker } from '../../src/broker/open.js';
import { MemoryTransport } from '../../src/broker/memory.js';
import { brokerConformance } from './conformance.js';

brokerConformance('memory', 'memory://conformance', {});

test('a payload that is not a weft body is dropped and reported, and the consumer goes on', async () => {
  const broker = await openBroker('memory://malformed');
  const raw = new MemoryTransport('malformed');
  const errors: Error[] = [];
  const bodies: unknown[] = [];
  await broker.consume('q', (message) => void bodies.push(message.body), { onError: (error) => errors.push(error) });
  await raw.publish('q', new Uint8Array([0x92, 1]), {}); // an array of two with one element: truncated
  await broker.publish('q', 'fine');
  while (bodies.length === 0) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(bodies, ['fine']);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof ProtocolError);
  await broker.close();
  await raw.close();
});

test('openBroker refuses an unknown scheme and a malformed URL with a TypeError naming the schemes', async () => {
  await assert.rejects(openBroker('mqtt://localhost:1883'), /redis, rediss, amqp, amqps, nats, sqs, sqss, kafka, weft, memory/);
  await assert.rejects(openBroker('not a url'), TypeError);
  await assert.rejects(openBroker('memory://x?redeliverAfter=-1'), RangeError);
});

test('a payload at an inbox that is not a weft body goes to onError, never to the handler, and the inbox goes on', async () => {
  const broker = await openBroker('memory://malformed-inbox');
  const raw = new MemoryTransport('malformed-inbox');
  const errors: Error[] = [];
  const bodies: unknown[] = [];
  const inbox = await broker.openInbox((body) => void bodies.push(body), { onError: (error) => errors.push(error) });
  await raw.reply(inbox.address, new Uint8Array([0x92, 1]), undefined);
  await broker.send(inbox.address, 'fine');
  while (bodies.length === 0) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(bodies, ['fine']);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof ProtocolError);
  await broker.close();
  await raw.close();
});

test('a broadcast payload that is not a weft body goes to onError, never to the handler', async () => {
  const broker = await openBroker('memory://malformed-topic');
  const raw = new MemoryTransport('malformed-topic');
  const errors: Error[] = [];
  const bodies: unknown[] = [];
  await broker.subscribe('news', (body) => void bodies.push(body), { onError: (error) => errors.push(error) });
  await raw.broadcast('news', new Uint8Array([0x92, 1]));
  await broker.broadcast('news', 'fine');
  while (bodies.length === 0) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(bodies, ['fine']);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof ProtocolError);
  await broker.close();
  await raw.close();
});

test('a message marked with another content type is refused: onError hears it, the handler never sees it; an onRefused that throws has it dropped', async () => {
  const broker = await openBroker('memory://foreign-type');
  const raw = new MemoryTransport('foreign-type');
  const errors: Error[] = [];
  const bodies: unknown[] = [];
  await broker.consume('plain', (message) => void bodies.push(message.body), { onError: (error) => errors.push(error) });
  await raw.publish('plain', new TextEncoder().encode('A'), { contentType: 'text/plain' });
  await broker.publish('plain', 'weft');
  while (bodies.length === 0) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(bodies, ['weft']);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof ProtocolError);
  assert.match(errors[0]!.message, /^a message on plain is not a weft message \(content type: text\/plain\)/);

  const failures: Error[] = [];
  const consumer = await broker.consume('strict', () => assert.fail('the handler was called'), {
    onRefused: () => {
      throw new Error('onRefused failed');
    },
    onError: (error) => failures.push(error),
  });
  await raw.publish('strict', new Uint8Array([0x41]), { contentType: 'text/plain' });
  while (failures.length === 0) await new Promise((resolve) => setImmediate(resolve));
  await consumer.cancel();
  assert.match(failures[0]!.message, /onRefused failed/);
  assert.deepEqual(await broker.queueStats('strict'), { waiting: 0, unacked: 0, consumers: 0 }, 'dropped, not requeued');
  await broker.close();
  await raw.close();
});
