// The RabbitMQ transport against a real server on 127.0.0.1:5672 (guest/guest). Each test uses
// its own queues (random suffix) and deletes them at the end.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import { openAmqpTransport } from '../../src/broker/amqp/transport.js';
import type { BrokerTransport, Delivery } from '../../src/broker/transport.js';
import { AuthenticationError, ConnectionClosedError, InvalidStateError, TimeoutError } from '../../src/core/errors.js';
import { until } from '../helpers.js';
import { bytes, DeliveryInbox, sleep, TcpRelay, text } from './transport-helpers.js';

const URL_TEXT = 'amqp://guest:guest@127.0.0.1:5672';
const options = { redeliverAfter: 30000, connectTimeout: 3000 };
describe('the AMQP transport', () => {
  let admin: ChannelModel;
  let adminChannel: Channel;
  const created: string[] = [];
  const open: BrokerTransport[] = [];

  function queueName(what: string): string {
    const name = `weft-test-${what}-${randomBytes(4).toString('hex')}`;
    created.push(name);
    return name;
  }

  async function transport(url = URL_TEXT): Promise<BrokerTransport> {
    const opened = await openAmqpTransport(new URL(url), options);
    open.push(opened);
    return opened;
  }

  async function messageCount(queue: string): Promise<number> {
    return (await adminChannel.checkQueue(queue)).messageCount;
  }

  before(async () => {
    admin = await connect(URL_TEXT);
    adminChannel = await admin.createChannel();
  });

  after(async () => {
    for (const opened of open) await opened.close();
    for (const queue of created) await adminChannel.deleteQueue(queue);
    await admin.close();
  });

  test('a round trip keeps the exact bytes and the properties; a message waits for its first consumer', async () => {
    const t = await transport();
    assert.equal(t.kind, 'amqp');
    const queue = queueName('roundtrip');
    const payload = new Uint8Array([0, 1, 2, 250, 255, 0x93, 0xc0]);
    await t.publish(queue, payload, { replyTo: 'somewhere', correlationId: 'c-42', headers: { trace: 'abc', empty: '' } });
    await t.publish(queue, bytes('plain'), {});
    const inbox = new DeliveryInbox();
    await t.consume(queue, 4, inbox.push);
    const first = await inbox.next();
    assert.deepEqual(first.payload, payload);
    assert.equal(first.replyTo, 'somewhere');
    assert.equal(first.correlationId, 'c-42');
    assert.deepEqual(first.headers, { trace: 'abc', empty: '' });
    assert.equal(first.redelivered, false);
    const second = await inbox.next();
    assert.equal(text(second.payload), 'plain');
    assert.equal(second.replyTo, undefined);
    assert.equal(second.correlationId, undefined);
    assert.deepEqual(second.headers, {});
    await first.ack();
    await second.ack();
  });

  test('prefetch bounds the unsettled deliveries; ack removes a message for good', async () => {
    const t = await transport();
    const queue = queueName('prefetch');
    for (let i = 0; i < 5; i++) await t.publish(queue, bytes(`m${i}`), {});
    const inbox = new DeliveryInbox();
    const consumer = await t.consume(queue, 2, inbox.push);
    await until(() => inbox.received.length === 2, 3000, 'two deliveries');
    await sleep(200);
    assert.equal(inbox.received.length, 2, 'no third delivery while two are unsettled');
    await (await inbox.next()).ack();
    await until(() => inbox.received.length === 3, 3000, 'the third delivery');
    await sleep(100);
    assert.equal(inbox.received.length, 3);
    for (const delivery of inbox.received.slice(1)) await delivery.ack();
    await until(() => inbox.received.length === 5, 3000, 'all five');
    for (const delivery of inbox.received.slice(3)) await delivery.ack();
    assert.deepEqual(inbox.received.map((d) => text(d.payload)), ['m0', 'm1', 'm2', 'm3', 'm4']);
    await consumer.cancel();
    assert.equal(await messageCount(queue), 0, 'acked messages are gone');
  });

  test('nack(true) delivers again with redelivered set; nack(false) drops', async () => {
    const t = await transport();
    const queue = queueName('nack');
    const inbox = new DeliveryInbox();
    const consumer = await t.consume(queue, 1, inbox.push);
    await t.publish(queue, bytes('again'), { correlationId: 'x' });
    const first = await inbox.next();
    assert.equal(first.redelivered, false);
    await first.nack(true);
    const second = await inbox.next();
    assert.equal(text(second.payload), 'again');
    assert.equal(second.redelivered, true);
    assert.equal(second.correlationId, 'x');
    await second.nack(false);
    await sleep(200);
    assert.equal(inbox.received.length, 2, 'a dropped message is not delivered again');
    await consumer.cancel();
    assert.equal(await messageCount(queue), 0);
  });

  test('settling twice rejects with InvalidStateError and leaves the consumer working', async () => {
    const t = await transport();
    const queue = queueName('twice');
    const inbox = new DeliveryInbox();
    await t.consume(queue, 1, inbox.push);
    await t.publish(queue, bytes('one'), {});
    const first = await inbox.next();
    await first.ack();
    await assert.rejects(first.ack(), InvalidStateError);
    await assert.rejects(first.nack(true), InvalidStateError);
    await t.publish(queue, bytes('two'), {});
    const second = await inbox.next();
    assert.equal(text(second.payload), 'two');
    await second.ack();
  });

  test('a delivery callback that throws is reported as a warning and does not break the connection', async () => {
    const t = await transport();
    const queue = queueName('throws');
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const inbox = new DeliveryInbox();
      await t.consume(queue, 2, (delivery) => {
        inbox.push(delivery);
        if (text(delivery.payload) === 'bad') throw new Error('handler bug');
      });
      await t.publish(queue, bytes('bad'), {});
      await t.publish(queue, bytes('good'), {});
      const bad = await inbox.next();
      const good = await inbox.next();
      assert.equal(text(good.payload), 'good');
      await bad.ack();
      await good.ack();
      await until(() => warnings.some((w) => /handler bug/.test(w)), 1000, 'the warning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('two consumers share a queue: each message goes to one of them', async () => {
    const a = await transport();
    const b = await transport();
    const queue = queueName('shared');
    const seen: Array<[string, string]> = [];
    const handler = (who: string) => (delivery: Delivery): void => {
      seen.push([who, text(delivery.payload)]);
      setTimeout(() => void delivery.ack(), 5);
    };
    await a.consume(queue, 1, handler('a'));
    await b.consume(queue, 1, handler('b'));
    const sent = Array.from({ length: 20 }, (_, i) => `n${i}`);
    for (const text of sent) await a.publish(queue, bytes(text), {});
    await until(() => seen.length === 20, 5000, 'twenty deliveries');
    await sleep(100);
    assert.equal(seen.length, 20, 'no message delivered twice');
    assert.deepEqual(seen.map(([, text]) => text).sort(), [...sent].sort());
    assert.ok(seen.some(([who]) => who === 'a') && seen.some(([who]) => who === 'b'), 'both consumers took messages');
  });

  test('unsettled deliveries of a transport that closes go to another consumer, redelivered', async () => {
    const leaving = await transport();
    const staying = await transport();
    const queue = queueName('leave');
    const leavingInbox = new DeliveryInbox();
    await leaving.consume(queue, 3, leavingInbox.push);
    for (let i = 0; i < 3; i++) await staying.publish(queue, bytes(`u${i}`), {});
    await until(() => leavingInbox.received.length === 3, 3000, 'three deliveries');
    const stayingInbox = new DeliveryInbox();
    await staying.consume(queue, 3, stayingInbox.push);
    await sleep(100);
    assert.equal(stayingInbox.received.length, 0, 'owned messages are not given to another consumer');
    await leaving.close();
    await until(() => stayingInbox.received.length === 3, 3000, 'the requeued three');
    assert.deepEqual(stayingInbox.received.map((d) => text(d.payload)).sort(), ['u0', 'u1', 'u2']);
    assert.ok(stayingInbox.received.every((d) => d.redelivered));
    for (const delivery of stayingInbox.received) await delivery.ack();
    await assert.rejects(leavingInbox.received[0]!.ack(), ConnectionClosedError);
  });

  test('a cancelled consumer receives nothing more but can still settle what it holds', async () => {
    const t = await transport();
    const queue = queueName('cancel');
    const inbox = new DeliveryInbox();
    const consumer = await t.consume(queue, 5, inbox.push);
    await t.publish(queue, bytes('held'), {});
    const held = await inbox.next();
    await consumer.cancel();
    await t.publish(queue, bytes('later'), {});
    await sleep(200);
    assert.equal(inbox.received.length, 1);
    await held.ack();
    assert.equal(await messageCount(queue), 1, "'later' waits in the queue");
  });

  test('a consumer process that dies without acking has its message delivered again', async () => {
    const t = await transport();
    const queue = queueName('crash');
    await t.publish(queue, bytes('doomed'), { headers: { n: '1' } });
    const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/amqp-crash-consumer.js', import.meta.url)), URL_TEXT, queue], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exitCode = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(exitCode, 1);
    assert.match(output, /received doomed/);
    const inbox = new DeliveryInbox();
    await t.consume(queue, 1, inbox.push);
    const again = await inbox.next();
    assert.equal(text(again.payload), 'doomed');
    assert.equal(again.redelivered, true);
    assert.deepEqual(again.headers, { n: '1' });
    await again.ack();
  });

  test('openInbox and reply: a request/reply round trip with its correlationId', async () => {
    const asker = await transport();
    const server = await transport();
    const queue = queueName('rpc');
    const replies: Array<[string, string | undefined]> = [];
    const inboxName = await asker.openInbox((payload, contentType, correlationId) => {
      assert.equal(contentType, 'application/x-msgpack', 'replies carry weft\'s content type');
      replies.push([text(payload), correlationId]);
    });
    assert.ok(inboxName.length > 0);
    await server.consume(queue, 1, (delivery) => {
      void server.reply(delivery.replyTo!, bytes(`echo ${text(delivery.payload)}`), delivery.correlationId).then(() => delivery.ack());
    });
    await asker.publish(queue, bytes('ping'), { replyTo: inboxName, correlationId: 'req-1' });
    await until(() => replies.length === 1, 3000, 'the reply');
    assert.deepEqual(replies, [['echo ping', 'req-1']]);
    // The transport can answer into its own inbox too, and without a correlationId.
    await asker.reply(inboxName, bytes('self'), undefined);
    await until(() => replies.length === 2, 3000, 'the second reply');
    assert.deepEqual(replies[1], ['self', undefined]);
  });

  test('a request (replyTo: our inbox, a correlationId) goes by direct reply-to, not persistent; other publishes keep the inbox address', async () => {
    const asker = await transport();
    const server = await transport();
    const queue = queueName('direct');
    const replies: Array<[string, string | undefined]> = [];
    const inboxName = await asker.openInbox((payload, _contentType, correlationId) => replies.push([text(payload), correlationId]));
    await asker.publish(queue, bytes('question'), { replyTo: inboxName, correlationId: 'req-9' });
    await asker.publish(queue, bytes('task'), { replyTo: inboxName });
    const request = await adminChannel.get(queue, { noAck: true });
    const task = await adminChannel.get(queue, { noAck: true });
    assert.ok(request && task, 'both messages wait in the queue');
    assert.match(request.properties.replyTo as string, /^amq\.rabbitmq\.reply-to\./);
    assert.notEqual(request.properties.deliveryMode, 2, 'a request is not persistent');
    assert.equal(task.properties.replyTo, inboxName, 'without a correlationId the inbox address travels');
    assert.equal(task.properties.deliveryMode, 2, 'other publishes stay persistent');
    // The answer to the direct address and a send to the inbox's own address both reach the inbox.
    await server.reply(request.properties.replyTo as string, bytes('answer'), 'req-9');
    await server.reply(inboxName, bytes('progress'), undefined);
    await until(() => replies.length === 2, 3000, 'the direct answer and the plain send');
    assert.deepEqual(replies.sort(), [['answer', 'req-9'], ['progress', undefined]]);
    // Once the inbox is closed its direct address drops answers, and the responder goes on.
    await asker.closeInbox(inboxName);
    await server.reply(request.properties.replyTo as string, bytes('late'), 'req-9');
    await server.publish(queue, bytes('after'), {});
    assert.equal(await messageCount(queue), 1);
    assert.equal(replies.length, 2);
  });

  test('reply to a named queue that does not exist yet: the queue is made and keeps the reply', async () => {
    const t = await transport();
    const replyQueue = queueName('replies');
    await t.reply(replyQueue, bytes('answer'), 'corr-7');
    const inbox = new DeliveryInbox();
    await t.consume(replyQueue, 1, inbox.push);
    const delivery = await inbox.next();
    assert.equal(text(delivery.payload), 'answer');
    assert.equal(delivery.correlationId, 'corr-7');
    await delivery.ack();
  });

  test("weft's own query parameters are stripped before connecting", async () => {
    const t = await transport(`${URL_TEXT}?redeliverAfter=100&connectTimeout=2000&prefetch=3`);
    const queue = queueName('query');
    await t.publish(queue, bytes('q'), {});
    assert.equal(await messageCount(queue), 1);
  });

  test('a server-refused operation rejects with its reason, an empty queue name is refused, and the transport goes on', async () => {
    const t = await transport();
    const queue = queueName('conflict');
    await adminChannel.assertQueue(queue, { durable: false });
    await assert.rejects(t.publish(queue, bytes('x'), {}), (error: unknown) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.match(error.message, /PRECONDITION.FAILED.*durable/);
      return true;
    });
    await assert.rejects(t.publish('', bytes('x'), {}), TypeError);
    await assert.rejects(t.consume('', 1, () => {}), TypeError);
    const other = queueName('after-conflict');
    await t.publish(other, bytes('fine'), {});
    assert.equal(await messageCount(other), 1);
  });

  test('close is idempotent and every call afterwards rejects with ConnectionClosedError', async () => {
    const t = await openAmqpTransport(new URL(URL_TEXT), options);
    let lost = 0;
    t.onLost(() => lost++);
    await t.close();
    await t.close();
    await assert.rejects(t.publish(queueName('closed'), bytes('x'), {}), ConnectionClosedError);
    await assert.rejects(t.consume('whatever', 1, () => {}), ConnectionClosedError);
    await assert.rejects(t.openInbox(() => {}), ConnectionClosedError);
    await assert.rejects(t.reply('whatever', bytes('x'), undefined), ConnectionClosedError);
    assert.equal(lost, 0, 'close() is not a loss');
  });

  test('losing the server calls onLost once; then every call rejects', async () => {
    const proxy = await TcpRelay.start(5672);
    try {
      const t = await openAmqpTransport(new URL(`amqp://guest:guest@127.0.0.1:${proxy.port}`), options);
      const queue = queueName('lost');
      const inbox = new DeliveryInbox();
      await t.consume(queue, 1, inbox.push);
      await t.publish(queue, bytes('before'), {});
      const held = await inbox.next();
      const losses: Error[] = [];
      t.onLost((error) => losses.push(error));
      proxy.cut();
      await until(() => losses.length > 0, 3000, 'onLost');
      await sleep(50);
      assert.equal(losses.length, 1);
      assert.ok(losses[0] instanceof ConnectionClosedError);
      assert.match(losses[0].message, /lost the connection to RabbitMQ at amqp:\/\/guest@127\.0\.0\.1/);
      await assert.rejects(t.publish(queue, bytes('after'), {}), ConnectionClosedError);
      await assert.rejects(held.ack(), ConnectionClosedError);
      await t.close();
      // The server noticed the dead connection and requeued the held message.
      const other = await transport();
      const again = new DeliveryInbox();
      await other.consume(queue, 1, again.push);
      const redelivered = await again.next();
      assert.equal(text(redelivered.payload), 'before');
      assert.equal(redelivered.redelivered, true);
      await redelivered.ack();
    } finally {
      await proxy.shut();
    }
  });

  test('wrong credentials reject with AuthenticationError, quickly', async () => {
    const started = Date.now();
    await assert.rejects(openAmqpTransport(new URL('amqp://guest:wrong@127.0.0.1:5672'), options), (error: unknown) => {
      assert.ok(error instanceof AuthenticationError);
      assert.match(error.message, /refused the login/);
      assert.doesNotMatch(error.message, /wrong/, 'the password is not in the message');
      return true;
    });
    assert.ok(Date.now() - started < options.connectTimeout);
  });

  test('a closed port rejects with ConnectionClosedError naming the address', async () => {
    const started = Date.now();
    await assert.rejects(openAmqpTransport(new URL('amqp://127.0.0.1:1'), options), (error: unknown) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.match(error.message, /could not connect to RabbitMQ at amqp:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
      return true;
    });
    assert.ok(Date.now() - started < options.connectTimeout);
  });

  test('a server that never answers rejects with TimeoutError at connectTimeout', async () => {
    const silent: Server = createServer(() => {});
    const sockets: Socket[] = [];
    silent.on('connection', (socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const started = Date.now();
      await assert.rejects(openAmqpTransport(new URL(`amqp://127.0.0.1:${port}`), { ...options, connectTimeout: 300 }), TimeoutError);
      const waited = Date.now() - started;
      assert.ok(waited >= 250 && waited < 2000, `rejected after ${waited} ms`);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
