// The NATS JetStream transport against the nats-server on 127.0.0.1:4222, used directly (no
// BrokerClient on top). Every test uses its own queues and the streams are deleted at the end.
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connect, headers, type JetStreamManager, type NatsConnection } from 'nats';
import { openNatsTransport } from '../../src/broker/nats/transport.js';
import { natsStreamName } from '../../src/broker/nats/names.js';
import { removeQueues } from '../../src/broker/remove-queues.js';
import type { BrokerTransport, Delivery, TransportOptions } from '../../src/broker/transport.js';
import { ConnectionClosedError } from '../../src/core/errors.js';
import { bytes, DeliveryInbox, sleep, TcpRelay, text } from './transport-helpers.js';
import { brokerConformance } from './conformance.js';

const URL_ = new URL('nats://127.0.0.1:4222');
const FAST: TransportOptions = { redeliverAfter: 500, connectTimeout: 5000 };
/** ack_wait far beyond any test's wait: a redelivery seen in time was not caused by it. */
const SLOW: TransportOptions = { redeliverAfter: 30_000, connectTimeout: 5000 };
const childScript = fileURLToPath(new URL('../fixtures/nats-crash-child.js', import.meta.url));


describe('NATS JetStream transport', () => {
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  const queues = new Set<string>();
  const transports: BrokerTransport[] = [];

  const queue = (name = 'q'): string => {
    const unique = `${name}-${randomBytes(6).toString('hex')}`;
    queues.add(unique);
    return unique;
  };
  const open = async (options = FAST): Promise<BrokerTransport> => {
    const transport = await openNatsTransport(URL_, options);
    transports.push(transport);
    return transport;
  };
  const storedCount = async (name: string): Promise<number> => (await jsm.streams.info(natsStreamName(name))).state.messages;

  before(async () => {
    admin = await connect({ servers: URL_.host });
    jsm = await admin.jetstreamManager();
  });
  after(async () => {
    await Promise.all(transports.map((t) => t.close()));
    for (const name of queues) await jsm.streams.delete(natsStreamName(name)).catch(() => undefined);
    await admin.close();
  });

  test('a message arrives with its exact bytes and properties, once', async () => {
    const transport = await open();
    const q = queue();
    const payload = new Uint8Array([0, 1, 2, 255, 254, 13, 10, 0]);
    const headers = { 'x-trace': 'abc', 'Mixed-Case': 'Value', 'with space': ' padded\r\nvalue ', 'ünï': 'çødé', 'nats-like': 'n', 'Weft-Reply-To': 'spoof' };
    await transport.publish(q, payload, { replyTo: 'answers.here now', correlationId: 'id:1 ✓', headers });
    const received = new DeliveryInbox();
    await transport.consume(q, 4, received.push);
    const delivery = await received.next();
    assert.deepEqual([...delivery.payload], [...payload]);
    assert.deepEqual(delivery.headers, headers);
    assert.equal(delivery.replyTo, 'answers.here now');
    assert.equal(delivery.correlationId, 'id:1 ✓');
    assert.equal(delivery.redelivered, false);
    await delivery.ack();
    await transport.publish(q, bytes('bare'), {});
    const bare = await received.next();
    assert.equal(text(bare.payload), 'bare');
    assert.deepEqual(bare.headers, {});
    assert.equal(bare.replyTo, undefined);
    assert.equal(bare.correlationId, undefined);
    await bare.ack();
  });

  test('a message from a plain NATS publisher arrives too, its hand-written headers as they are', async () => {
    const transport = await open();
    const q = queue();
    await transport.publish(q, bytes('first'), {});
    const [subject] = (await jsm.streams.info(natsStreamName(q))).config.subjects;
    const foreign = headers();
    foreign.set('Weft-Correlation-Id', '100%');
    foreign.set('x-from', 'elsewhere');
    await admin.jetstream().publish(subject!, bytes('foreign'), { headers: foreign });
    const received = new DeliveryInbox();
    await transport.consume(q, 2, received.push);
    await (await received.next()).ack();
    const delivery = await received.next();
    assert.equal(text(delivery.payload), 'foreign');
    assert.equal(delivery.correlationId, '100%');
    assert.deepEqual(delivery.headers, { 'x-from': 'elsewhere' });
    await delivery.ack();
  });

  test('a published message waits for its first consumer and ack removes it', async () => {
    const transport = await open();
    const q = queue();
    await transport.publish(q, bytes('kept'), {});
    assert.equal(await storedCount(q), 1);
    const received = new DeliveryInbox();
    await transport.consume(q, 1, received.push);
    await (await received.next()).ack();
    assert.equal(await storedCount(q), 0);
    await sleep(800); // past redeliverAfter: an acked message never comes back
    assert.equal(received.received.length, 1);
  });

  test('prefetch bounds the unsettled deliveries of one consumer', async () => {
    const transport = await open();
    const q = queue();
    for (let i = 0; i < 6; i++) await transport.publish(q, bytes(`m${i}`), {});
    const received = new DeliveryInbox();
    await transport.consume(q, 2, received.push);
    await received.next();
    await received.next();
    await sleep(200);
    assert.equal(received.received.length, 2, 'two unsettled, nothing more');
    await received.received[0]!.ack();
    await received.next();
    await sleep(200);
    assert.equal(received.received.length, 3, 'one settled, one more delivered');
    for (const delivery of received.received.slice(1)) await delivery.ack();
    for (let i = 3; i < 6; i++) await (await received.next()).ack();
    assert.deepEqual(received.received.map((d) => text(d.payload)).sort(), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
  });

  test('nack(true) redelivers at once with redelivered set', async () => {
    const transport = await open(SLOW);
    const q = queue();
    await transport.publish(q, bytes('again'), { correlationId: 'c' });
    const received = new DeliveryInbox();
    await transport.consume(q, 1, received.push);
    const first = await received.next();
    assert.equal(first.redelivered, false);
    await first.nack(true);
    const second = await received.next(2000);
    assert.equal(text(second.payload), 'again');
    assert.equal(second.correlationId, 'c');
    assert.equal(second.redelivered, true);
    await second.ack();
  });

  test('nack(false) drops the message', async () => {
    const transport = await open();
    const q = queue();
    await transport.publish(q, bytes('drop me'), {});
    const received = new DeliveryInbox();
    await transport.consume(q, 1, received.push);
    await (await received.next()).nack(false);
    // The server read the term (a flush proves it) but may remove the message a moment later.
    const deadline = Date.now() + 2000;
    while ((await storedCount(q)) !== 0 && Date.now() < deadline) await sleep(20);
    assert.equal(await storedCount(q), 0);
    await sleep(800); // past redeliverAfter
    assert.equal(received.received.length, 1);
  });

  test('settling twice is harmless', async () => {
    const transport = await open();
    const q = queue();
    await transport.publish(q, bytes('once'), {});
    const received = new DeliveryInbox();
    await transport.consume(q, 1, received.push);
    const delivery = await received.next();
    await delivery.ack();
    await delivery.ack();
    await delivery.nack(true);
    await sleep(200);
    assert.equal(received.received.length, 1);
  });

  test('consumers of one queue share its messages, each message to one of them', async () => {
    const [a, b] = [await open(), await open()];
    const q = queue();
    const seen = new Map<string, string[]>([['a', []], ['b', []]]);
    const handle = (who: string) => (delivery: Delivery): void => {
      seen.get(who)!.push(text(delivery.payload));
      setTimeout(() => void delivery.ack(), 20); // slow enough that both get work
    };
    await a.consume(q, 1, handle('a'));
    await b.consume(q, 1, handle('b'));
    const sent = Array.from({ length: 20 }, (_, i) => `m${i}`);
    for (const m of sent) await a.publish(q, bytes(m), {});
    const deadline = Date.now() + 5000;
    while (seen.get('a')!.length + seen.get('b')!.length < sent.length && Date.now() < deadline) await sleep(20);
    await sleep(100);
    const all = [...seen.get('a')!, ...seen.get('b')!];
    assert.deepEqual(all.sort(), [...sent].sort(), 'every message exactly once');
    assert.ok(seen.get('a')!.length > 0 && seen.get('b')!.length > 0, 'both consumers got some');
  });

  test('a cancelled consumer gets nothing new; its unsettled message stays its own until settled', async () => {
    const transport = await open(SLOW);
    const q = queue();
    await transport.publish(q, bytes('held'), {});
    const first = new DeliveryInbox();
    const consumer = await transport.consume(q, 4, first.push);
    const held = await first.next();
    await consumer.cancel();
    await transport.publish(q, bytes('after cancel'), {});
    const second = new DeliveryInbox();
    await transport.consume(q, 4, second.push);
    assert.equal(text((await second.next()).payload), 'after cancel');
    await sleep(200);
    assert.equal(first.received.length, 1);
    assert.equal(second.received.length, 1, 'the held message was not handed out again');
    await held.nack(true);
    const back = await second.next();
    assert.equal(text(back.payload), 'held');
    assert.equal(back.redelivered, true);
  });

  test('cancelling a busy consumer strands nothing: what was on its way goes back at once', async () => {
    const transport = await open(SLOW);
    const q = queue();
    const sent = Array.from({ length: 300 }, (_, i) => `m${i}`);
    await Promise.all(sent.map((m) => transport.publish(q, bytes(m), {})));
    const seen: string[] = [];
    let cancelled!: () => void;
    const done = new Promise<void>((resolve) => (cancelled = resolve));
    const busy = await transport.consume(q, 50, (delivery) => {
      seen.push(text(delivery.payload));
      // Cancel at the 100th arrival (counting acks instead could skip past 100 and never cancel).
      const last = seen.length === 100;
      void delivery.ack().then(() => {
        if (last) void busy.cancel().then(cancelled);
      });
    });
    await done;
    const rest = new DeliveryInbox();
    await transport.consume(q, 50, (delivery) => {
      rest.push(delivery);
      void delivery.ack();
    });
    const deadline = Date.now() + 3000; // ack_wait is 30 s: whatever comes back in time was never stranded
    while (seen.length + rest.received.length < sent.length && Date.now() < deadline) await sleep(20);
    const all = [...seen, ...rest.received.map((d) => text(d.payload))];
    assert.equal(new Set(all).size, sent.length, `${sent.length - new Set(all).size} messages stranded`);
  });

  test('closing a transport hands its unsettled messages to another consumer at once', async () => {
    const [closing, staying] = [await open(SLOW), await open(SLOW)];
    const q = queue();
    for (let i = 0; i < 3; i++) await closing.publish(q, bytes(`u${i}`), {});
    const first = new DeliveryInbox();
    await closing.consume(q, 3, first.push);
    for (let i = 0; i < 3; i++) await first.next();
    const second = new DeliveryInbox();
    await staying.consume(q, 10, second.push);
    await sleep(100);
    assert.equal(second.received.length, 0, 'owned by the first consumer');
    const started = Date.now();
    await closing.close();
    const again = [await second.next(2000), await second.next(2000), await second.next(2000)];
    assert.ok(Date.now() - started < 2000, 'long before ack_wait (30 s)');
    assert.deepEqual(again.map((d) => text(d.payload)).sort(), ['u0', 'u1', 'u2']);
    assert.ok(again.every((d) => d.redelivered));
    await assert.rejects(first.received[0]!.ack(), ConnectionClosedError);
    for (const d of again) await d.ack();
  });

  test('a consumer process that dies unsettled has its message redelivered after redeliverAfter', async () => {
    const transport = await open();
    const q = queue();
    await transport.publish(q, bytes('orphan'), {});
    const child = spawn(process.execPath, [childScript, URL_.href, q, String(FAST.redeliverAfter)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exitCode = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const diedAt = Date.now();
    assert.equal(exitCode, 1);
    assert.match(output, /got orphan/);
    const received = new DeliveryInbox();
    await transport.consume(q, 1, received.push);
    const delivery = await received.next(3000);
    assert.equal(text(delivery.payload), 'orphan');
    assert.equal(delivery.redelivered, true);
    assert.ok(Date.now() - diedAt < 3000);
    await delivery.ack();
  });

  test('openInbox and reply carry a payload and its correlationId back', async () => {
    const [asker, answerer] = [await open(), await open()];
    const q = queue();
    const replies: { payload: string; correlationId: string | undefined }[] = [];
    let gotReply!: () => void;
    const replied = new Promise<void>((resolve) => (gotReply = resolve));
    const inbox = await asker.openInbox((payload, contentType, correlationId) => {
      assert.equal(contentType, 'application/x-msgpack', 'replies carry weft\'s content type');
      replies.push({ payload: text(payload), correlationId });
      gotReply();
    });
    await answerer.consume(q, 1, (delivery) => {
      void answerer.reply(delivery.replyTo!, bytes(`re: ${text(delivery.payload)}`), delivery.correlationId).then(() => delivery.ack());
    });
    await asker.publish(q, bytes('question'), { replyTo: inbox, correlationId: 'corr-42' });
    await replied;
    assert.deepEqual(replies, [{ payload: 're: question', correlationId: 'corr-42' }]);
  });

  test('reply to a queue name publishes into that queue', async () => {
    const transport = await open();
    const replyQueue = queue('replies');
    await transport.reply(replyQueue, bytes('answer'), 'c-7');
    const received = new DeliveryInbox();
    await transport.consume(replyQueue, 1, received.push);
    const delivery = await received.next();
    assert.equal(text(delivery.payload), 'answer');
    assert.equal(delivery.correlationId, 'c-7');
    await delivery.ack();
  });

  test('a publish to a queue whose stream was deleted behind its back rejects at once, saying so', async () => {
    const transport = await open();
    const name = queue('deleted');
    await transport.publish(name, bytes('first'), {});
    await jsm.streams.delete(natsStreamName(name));
    const started = Date.now();
    await assert.rejects(transport.publish(name, bytes('second'), {}), /no responders/);
    assert.ok(Date.now() - started < FAST.connectTimeout, 'rejected by the server\'s 503, not by the timeout');
  });

  test('queue names with dots, spaces, wildcards, unicode and great length are distinct queues', async () => {
    const transport = await open();
    const suffix = randomBytes(4).toString('hex');
    const names = ['a.b', 'a b', 'a_b', '*', '>', 'ünïcødé ✓', '../etc/passwd', 'x'.repeat(300), 'x'.repeat(301)].map((n) => `${n}-${suffix}`);
    names.forEach((n) => queues.add(n));
    for (const name of names) await transport.publish(name, bytes(name), {});
    for (const name of names) {
      const received = new DeliveryInbox();
      const consumer = await transport.consume(name, 1, received.push);
      const delivery = await received.next();
      assert.equal(text(delivery.payload), name);
      await delivery.ack();
      await consumer.cancel();
      assert.equal(await storedCount(name), 0);
    }
  });

  test('after a dropped connection the client reconnects: consuming resumes and earlier deliveries can still be acked', async () => {
    const relay = await TcpRelay.start(Number(URL_.port), URL_.hostname);
    const direct = await open();
    const viaRelay = await openNatsTransport(new URL(`nats://127.0.0.1:${relay.port}`), { ...FAST, connectTimeout: 1000 }, { attempts: 50, wait: 50 });
    transports.push(viaRelay);
    let lost = 0;
    viaRelay.onLost(() => lost++);
    const q = queue();
    await direct.publish(q, bytes('before'), {});
    const received = new DeliveryInbox();
    await viaRelay.consume(q, 2, received.push);
    const before = await received.next();
    relay.cut();
    await sleep(300);
    await direct.publish(q, bytes('after'), {});
    const after = await received.next(3000);
    assert.equal(text(after.payload), 'after');
    await before.ack();
    await after.ack();
    assert.equal(await storedCount(q), 0);
    assert.equal(lost, 0);
    await relay.shut();
    const closing = Date.now();
    await viaRelay.close();
    assert.ok(Date.now() - closing < 500, 'close() does not wait for the reconnection');
    assert.equal(lost, 0, 'closing while reconnecting is no loss');
  });

  test('a server gone for good ends in onLost, once, and then every call rejects', async () => {
    const relay = await TcpRelay.start(Number(URL_.port), URL_.hostname);
    const transport = await openNatsTransport(new URL(`nats://127.0.0.1:${relay.port}`), { ...FAST, connectTimeout: 1000 }, { attempts: 2, wait: 50 });
    transports.push(transport);
    const q = queue();
    await transport.publish(q, bytes('pending'), {});
    const received = new DeliveryInbox();
    await transport.consume(q, 1, received.push);
    const delivery = await received.next();
    const errors: Error[] = [];
    const lost = new Promise<void>((resolve) => transport.onLost((error) => {
      errors.push(error);
      resolve();
    }));
    await relay.shut();
    await lost;
    await sleep(100);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof ConnectionClosedError);
    assert.match(errors[0]!.message, /lost the connection to NATS/);
    await assert.rejects(transport.publish(q, bytes('x'), {}), ConnectionClosedError);
    await assert.rejects(delivery.ack(), ConnectionClosedError);
    const late: Error[] = [];
    transport.onLost((error) => late.push(error));
    await sleep(10);
    assert.equal(late.length, 1, 'a listener added after the loss hears about it');
    await transport.close();
  });

  test('a closed transport rejects every call, and close is idempotent', async () => {
    const transport = await openNatsTransport(URL_, FAST);
    let lost = 0;
    transport.onLost(() => lost++);
    await transport.close();
    await transport.close();
    await assert.rejects(transport.publish(queue(), bytes('x'), {}), ConnectionClosedError);
    await assert.rejects(transport.consume(queue(), 1, () => undefined), ConnectionClosedError);
    await assert.rejects(transport.openInbox(() => undefined), ConnectionClosedError);
    await sleep(50);
    assert.equal(lost, 0, 'close() is not a loss');
  });

  test('nothing listening on the port: open rejects clearly and in bounded time', async () => {
    const started = Date.now();
    await assert.rejects(openNatsTransport(new URL('nats://127.0.0.1:1'), { redeliverAfter: 500, connectTimeout: 1000 }), (error: Error) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.match(error.message, /cannot connect to NATS at 127\.0\.0\.1:1/);
      return true;
    });
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  });
});

brokerConformance('nats', `${URL_.href}?redeliverAfter=400`, {
  loss: { port: Number(URL_.port), withinMs: 20_000 },
  crashRedeliveryMs: 3000,
  // Each queue is a stream on the server's disk.
  removeQueues: (names) => removeQueues(URL_, names),
});
