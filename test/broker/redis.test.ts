// The Redis transport against a real server (WEFT_REDIS_URL, default redis://127.0.0.1:6379/0).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { openRedisTransport } from '../../src/broker/redis/transport.js';
import type { BrokerTransport, Delivery, TransportOptions } from '../../src/broker/transport.js';
import { ConnectionClosedError } from '../../src/core/errors.js';
import { bytes, DeliveryInbox, sleep, TcpRelay, text } from './transport-helpers.js';

const REDIS_URL = process.env.WEFT_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const FAST: TransportOptions = { redeliverAfter: 300, connectTimeout: 2000 };

const admin = new Redis(REDIS_URL);
const transports: BrokerTransport[] = [];
const queues: string[] = [];

after(async () => {
  await Promise.allSettled(transports.map((transport) => transport.close()));
  if (queues.length > 0) await admin.del(...queues.map((queue) => `weft:q:${queue}`));
  await admin.quit();
});

async function open(options: TransportOptions = FAST, url = REDIS_URL): Promise<BrokerTransport> {
  const transport = await openRedisTransport(new URL(url), options);
  transports.push(transport);
  return transport;
}

function newQueue(): string {
  const queue = `test-${randomUUID()}`;
  queues.push(queue);
  return queue;
}

describe('redis transport', () => {
  it('delivers the exact bytes and properties', async () => {
    const transport = await open();
    const queue = newQueue();
    const payload = Uint8Array.from({ length: 256 }, (_, i) => i);
    await transport.publish(queue, payload, { replyTo: 'answers', correlationId: 'c-1', headers: { a: '1', 'x-é': 'ü' } });
    await transport.publish(queue, new Uint8Array(0), {});
    const inbox = new DeliveryInbox();
    await transport.consume(queue, 4, inbox.push);
    const first = await inbox.next();
    assert.equal(transport.kind, 'redis');
    assert.deepEqual(first.payload, payload);
    assert.equal(first.replyTo, 'answers');
    assert.equal(first.correlationId, 'c-1');
    assert.deepEqual(first.headers, { a: '1', 'x-é': 'ü' });
    assert.equal(first.redelivered, false);
    const second = await inbox.next();
    assert.deepEqual(second.payload, new Uint8Array(0));
    assert.equal(second.replyTo, undefined);
    assert.equal(second.correlationId, undefined);
    assert.deepEqual(second.headers, {});
    await Promise.all([first.ack(), second.ack()]);
  });

  it('keeps at most prefetch deliveries unsettled', async () => {
    const transport = await open();
    const queue = newQueue();
    for (let i = 0; i < 5; i++) await transport.publish(queue, bytes(`m${i}`), {});
    const inbox = new DeliveryInbox();
    await transport.consume(queue, 2, inbox.push);
    await inbox.next();
    await inbox.next();
    await sleep(300);
    assert.equal(inbox.received.length, 2);
    await inbox.received[0]!.ack();
    await inbox.next();
    await sleep(200);
    assert.equal(inbox.received.length, 3);
    for (const delivery of inbox.received) await delivery.ack();
    await inbox.next();
    await inbox.next();
    assert.deepEqual(inbox.received.map((d) => text(d.payload)), ['m0', 'm1', 'm2', 'm3', 'm4']);
    for (const delivery of inbox.received.slice(3)) await delivery.ack();
  });

  it('forgets acked messages for good', async () => {
    const transport = await open();
    const queue = newQueue();
    await transport.publish(queue, bytes('once'), {});
    const inbox = new DeliveryInbox();
    await transport.consume(queue, 1, inbox.push);
    const delivery = await inbox.next();
    await delivery.ack();
    await delivery.ack(); // a second settle changes nothing
    await sleep(3 * FAST.redeliverAfter);
    assert.equal(inbox.received.length, 1);
    assert.equal(await admin.xlen(`weft:q:${queue}`), 0);
    const [pending] = (await admin.xpending(`weft:q:${queue}`, 'weft')) as [number];
    assert.equal(pending, 0);
  });

  it('redelivers a nacked message with requeue, marked redelivered', async () => {
    const transport = await open();
    const queue = newQueue();
    await transport.publish(queue, bytes('again'), { correlationId: 'k', headers: { h: 'v' } });
    const inbox = new DeliveryInbox();
    await transport.consume(queue, 1, inbox.push);
    const first = await inbox.next();
    assert.equal(first.redelivered, false);
    await first.nack(true);
    await first.nack(true); // settled already: no second copy
    const second = await inbox.next();
    assert.equal(text(second.payload), 'again');
    assert.equal(second.redelivered, true);
    assert.equal(second.correlationId, 'k');
    assert.deepEqual(second.headers, { h: 'v' });
    await second.ack();
    await sleep(200);
    assert.equal(inbox.received.length, 2);
  });

  it('drops a message nacked without requeue', async () => {
    const transport = await open();
    const queue = newQueue();
    await transport.publish(queue, bytes('drop'), {});
    await transport.publish(queue, bytes('keep'), {});
    const inbox = new DeliveryInbox();
    await transport.consume(queue, 1, inbox.push);
    const dropped = await inbox.next();
    assert.equal(text(dropped.payload), 'drop');
    await dropped.nack(false);
    const kept = await inbox.next();
    assert.equal(text(kept.payload), 'keep');
    await kept.ack();
    await sleep(3 * FAST.redeliverAfter);
    assert.equal(inbox.received.length, 2);
    assert.equal(await admin.xlen(`weft:q:${queue}`), 0);
  });

  it('gives each message to one of the consumers sharing a queue', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const queue = newQueue();
    const seen: string[][] = [[], []];
    const handler = (index: number) => (delivery: Delivery): void => {
      seen[index]!.push(text(delivery.payload));
      setTimeout(() => void delivery.ack(), 20);
    };
    await a.consume(queue, 1, handler(0));
    await b.consume(queue, 1, handler(1));
    const sent = Array.from({ length: 20 }, (_, i) => `m${i}`);
    await Promise.all(sent.map((body) => a.publish(queue, bytes(body), {})));
    const deadline = Date.now() + 5000;
    while (seen[0]!.length + seen[1]!.length < sent.length && Date.now() < deadline) await sleep(20);
    await sleep(100);
    assert.deepEqual([...seen[0]!, ...seen[1]!].sort(), [...sent].sort());
    assert.ok(seen[0]!.length > 0 && seen[1]!.length > 0, `both consumers took some: ${seen[0]!.length} / ${seen[1]!.length}`);
  });

  it('hands the unsettled deliveries of a closed transport to another consumer at once', async () => {
    const slow: TransportOptions = { redeliverAfter: 30_000, connectTimeout: 2000 };
    const leaving = await open(slow);
    const queue = newQueue();
    for (let i = 0; i < 3; i++) await leaving.publish(queue, bytes(`m${i}`), {});
    const held = new DeliveryInbox();
    await leaving.consume(queue, 3, held.push);
    await held.next();
    await held.next();
    await held.next();
    await leaving.close();
    await assert.rejects(leaving.publish(queue, bytes('late'), {}), ConnectionClosedError);
    const staying = await open(slow);
    const inbox = new DeliveryInbox();
    await staying.consume(queue, 3, inbox.push);
    const again = [await inbox.next(2000), await inbox.next(2000), await inbox.next(2000)];
    assert.deepEqual(again.map((d) => text(d.payload)).sort(), ['m0', 'm1', 'm2']);
    assert.ok(again.every((d) => d.redelivered));
    await Promise.all(again.map((d) => d.ack()));
  });

  it('redelivers what a crashed process held once redeliverAfter passed', async () => {
    const queue = newQueue();
    const transport = await open();
    for (let i = 0; i < 3; i++) await transport.publish(queue, bytes(`m${i}`), {});
    const child = fork(new URL('../fixtures/redis-crash-child.js', import.meta.url), [REDIS_URL, queue, '3'], { stdio: 'ignore' });
    const messages: unknown[] = [];
    child.on('message', (message) => messages.push(message));
    await once(child, 'exit');
    assert.deepEqual((messages.find(Array.isArray) as string[]).sort(), ['m0', 'm1', 'm2']);
    const inbox = new DeliveryInbox();
    await transport.consume(queue, 3, inbox.push);
    const again = [await inbox.next(), await inbox.next(), await inbox.next()];
    assert.deepEqual(again.map((d) => text(d.payload)).sort(), ['m0', 'm1', 'm2']);
    assert.ok(again.every((d) => d.redelivered));
    await Promise.all(again.map((d) => d.ack()));
  });

  it('lets a live consumer keep a delivery longer than redeliverAfter', async () => {
    const [holder, other] = await Promise.all([open(), open()]);
    const queue = newQueue();
    await holder.publish(queue, bytes('mine'), {});
    const held = new DeliveryInbox();
    await holder.consume(queue, 1, held.push);
    const delivery = await held.next();
    const inbox = new DeliveryInbox();
    await other.consume(queue, 1, inbox.push);
    await sleep(4 * FAST.redeliverAfter);
    assert.equal(inbox.received.length, 0);
    await delivery.ack();
  });

  it('keeps the unsettled deliveries of a cancelled consumer owned until settled or closed', async () => {
    const [leaving, other] = await Promise.all([open(), open()]);
    const queue = newQueue();
    await leaving.publish(queue, bytes('settled late'), {});
    await leaving.publish(queue, bytes('handed back'), {});
    const held = new DeliveryInbox();
    const consumer = await leaving.consume(queue, 2, held.push);
    const [late, back] = [await held.next(), await held.next()];
    await consumer.cancel();
    const inbox = new DeliveryInbox();
    await other.consume(queue, 2, inbox.push);
    await sleep(4 * FAST.redeliverAfter);
    assert.equal(inbox.received.length, 0, 'nothing was taken from the cancelled consumer');
    await late.ack();
    await leaving.close();
    const again = await inbox.next(1000);
    assert.equal(text(again.payload), text(back.payload));
    assert.equal(again.redelivered, true);
    await again.ack();
    await sleep(200);
    assert.equal(inbox.received.length, 1);
  });

  it('stops delivering after cancel, promptly', async () => {
    const transport = await open();
    const queue = newQueue();
    const inbox = new DeliveryInbox();
    const lost: Error[] = [];
    transport.onLost((error) => lost.push(error));
    const consumer = await transport.consume(queue, 4, inbox.push);
    await sleep(50);
    const started = Date.now();
    await consumer.cancel();
    assert.ok(Date.now() - started < 500, `cancel took ${Date.now() - started} ms`);
    await transport.publish(queue, bytes('after'), {});
    await sleep(200);
    assert.equal(inbox.received.length, 0);
    assert.equal(await admin.xlen(`weft:q:${queue}`), 1);
    // The transport itself goes on: a cancelled consumer's connection is not a lost server.
    assert.deepEqual(lost, []);
    const next = new DeliveryInbox();
    await transport.consume(queue, 1, next.push);
    assert.equal(text((await next.next()).payload), 'after');
  });

  it('recovers when its stream is deleted behind its back', async () => {
    const transport = await open();
    const queue = newQueue();
    const inbox = new DeliveryInbox();
    await transport.consume(queue, 1, inbox.push);
    await sleep(50);
    await admin.del(`weft:q:${queue}`);
    await transport.publish(queue, bytes('after the wipe'), {});
    const delivery = await inbox.next(3000);
    assert.equal(text(delivery.payload), 'after the wipe');
    await delivery.ack();
  });

  it('writes a weft body as the field m (no content-type field), and still reads the t + p entries weft wrote before', async () => {
    const transport = await open();
    const queue = newQueue();
    await transport.publish(queue, bytes('new'), {});
    await transport.publish(queue, bytes('marked otherwise'), { contentType: 'text/plain' });
    const written = (await admin.xrange(`weft:q:${queue}`, '-', '+')).map(([, fields]) => fields);
    assert.deepEqual(written, [['m', 'new'], ['t', 'text/plain', 'p', 'marked otherwise']]);
    await admin.xadd(`weft:q:${queue}`, '*', 't', 'application/x-msgpack', 'p', 'as weft wrote it before');
    const inbox = new DeliveryInbox();
    await transport.consume(queue, 3, inbox.push);
    const deliveries = [await inbox.next(), await inbox.next(), await inbox.next()];
    assert.deepEqual(deliveries.map((d) => [text(d.payload), d.contentType, d.headers]), [
      ['new', 'application/x-msgpack', {}],
      ['marked otherwise', 'text/plain', {}],
      ['as weft wrote it before', 'application/x-msgpack', {}],
    ]);
    await Promise.all(deliveries.map((d) => d.ack()));
  });

  it('a reply to a queue it never used is written before an ack issued after it, in one pipeline', async () => {
    const transport = await open();
    const [source, target] = [newQueue(), newQueue()];
    await transport.publish(source, bytes('question'), {});
    const inbox = new DeliveryInbox();
    await transport.consume(source, 1, inbox.push);
    const delivery = await inbox.next();
    const monitor = await admin.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      const command = args[0]!.toLowerCase();
      if (!['xgroup', 'xadd', 'xack', 'xdel'].includes(command)) return;
      const key = command === 'xgroup' ? args[2] : args[1];
      if (key === `weft:q:${target}`) seen.push(`${command} target`);
      else if (key === `weft:q:${source}`) seen.push(`${command} source`);
    });
    try {
      // Issued in this order in one turn, as a consumer answering a request does.
      await Promise.all([transport.reply(target, bytes('answer'), 'c-1'), delivery.ack()]);
      const deadline = Date.now() + 3000;
      while (seen.length < 4 && Date.now() < deadline) await sleep(10);
      assert.deepEqual(seen.slice(0, 4), ['xgroup target', 'xadd target', 'xack source', 'xdel source']);
    } finally {
      monitor.disconnect();
    }
  });

  it('routes replies to an inbox with their correlationId', async () => {
    const transport = await open();
    const replies: Array<[string, string | undefined]> = [];
    const address = await transport.openInbox((payload, contentType, correlationId) => {
      assert.equal(contentType, 'application/x-msgpack', 'replies carry weft\'s content type');
      replies.push([text(payload), correlationId]);
    });
    assert.ok(address.startsWith('weft:inbox:'));
    const responder = await open();
    await responder.reply(address, bytes('answer ✓'), 'corr-7');
    await responder.reply(address, bytes(''), undefined);
    const deadline = Date.now() + 2000;
    while (replies.length < 2 && Date.now() < deadline) await sleep(10);
    assert.deepEqual(replies, [['answer ✓', 'corr-7'], ['', undefined]]);
  });

  it('sends a reply addressed to a queue name to that queue', async () => {
    const transport = await open();
    const queue = newQueue();
    await transport.reply(queue, bytes('to a queue'), 'corr-9');
    const inbox = new DeliveryInbox();
    await transport.consume(queue, 1, inbox.push);
    const delivery = await inbox.next();
    assert.equal(text(delivery.payload), 'to a queue');
    assert.equal(delivery.correlationId, 'corr-9');
    await delivery.ack();
  });

  it('rejects in bounded time when nothing listens', async () => {
    const started = Date.now();
    await assert.rejects(
      openRedisTransport(new URL('redis://127.0.0.1:1/0'), FAST),
      (error: Error) => error instanceof ConnectionClosedError && /127\.0\.0\.1:1/.test(error.message) && error.cause !== undefined,
    );
    assert.ok(Date.now() - started < FAST.connectTimeout + 1000);
  });

  it('connects with a username and password from the URL, and rejects a wrong one', async () => {
    const user = `weft-test-${randomUUID().slice(0, 8)}`;
    await admin.call('ACL', 'SETUSER', user, 'on', '>s3cret', '~*', '&*', '+@all');
    try {
      const base = new URL(REDIS_URL);
      const good = new URL(`redis://${user}:s3cret@${base.host}${base.pathname}`);
      const transport = await open(FAST, good.href);
      const queue = newQueue();
      await transport.publish(queue, bytes('authed'), {});
      assert.equal(await admin.xlen(`weft:q:${queue}`), 1);
      const bad = new URL(`redis://${user}:wrong@${base.host}${base.pathname}`);
      await assert.rejects(openRedisTransport(bad, FAST), ConnectionClosedError);
    } finally {
      await admin.call('ACL', 'DELUSER', user);
    }
  });

  it('reports a lost server once through onLost, and then rejects calls', async () => {
    // A relay in front of Redis that vanishes: the transport cannot reconnect through it.
    const base = new URL(REDIS_URL);
    const relay = await TcpRelay.start(Number(base.port || 6379), base.hostname);
    const port = relay.port;
    const transport = await openRedisTransport(new URL(`redis://127.0.0.1:${port}${base.pathname}`), { redeliverAfter: 300, connectTimeout: 500 });
    const queue = newQueue();
    await transport.consume(queue, 1, () => undefined);
    await transport.openInbox(() => undefined);
    const lost: Error[] = [];
    transport.onLost((error) => lost.push(error));
    await relay.shut();
    const started = Date.now();
    await assert.rejects(transport.publish(queue, bytes('x'), {}));
    assert.ok(Date.now() - started < 3000, `publish failed after ${Date.now() - started} ms`);
    const deadline = Date.now() + 5000;
    while (lost.length === 0 && Date.now() < deadline) await sleep(20);
    await sleep(300);
    assert.equal(lost.length, 1);
    assert.ok(lost[0] instanceof ConnectionClosedError);
    await assert.rejects(transport.publish(queue, bytes('y'), {}), ConnectionClosedError);
    await transport.close();
  });
});
