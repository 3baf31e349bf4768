// What the Kafka adapter does that the conformance suite does not see, checked on the server
// with kafkajs itself against librdkafka's mock cluster (scripts/kafka-mock-cluster.c): the
// committed offset moves over the contiguous run of settled records only; a consumer that goes
// away hands back exactly what it had not settled; another program's record is dead-lettered
// with its reason and does not hold its partition back; prefetch is what the server records as
// handed out; requeued copies and dead letters land where docs/brokers.md says; request/reply
// runs through the inbox topic with the correlationId in a header, so that a program that is
// not weft can answer; a cluster that goes away fails calls with ConnectionClosedError.
//
// Records the tests must see in order are written to partition 0 by kafkajs (a queue's topic
// has several partitions; Kafka orders within one only). Tests run concurrently, each on queues
// of its own: most of their time is the mock's 3 s wait before a new group's first assignment.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type IHeaders, type KafkaMessage } from 'kafkajs';
import { ClosedError, ConnectionClosedError, ProtocolError } from '../../src/index.js';
import { openBroker } from '../../src/broker/open.js';
import type { Broker, Message } from '../../src/broker/types.js';
import { CONTENT_TYPE } from '../../src/broker/transport.js';
import { deadLetterTopic, queueGroup, queueTopic, retryTopic } from '../../src/broker/kafka/names.js';
import { Codec } from '../../src/remote/codec.js';
import { buildKafkaMock, startKafkaMock } from '../../src/bench/kafka-mock.js';
import { Collector } from './conformance-helpers.js';

buildKafkaMock();
const mock = await startKafkaMock();
const url = `${mock.url}?redeliverAfter=4000`;
const codec = new Codec();
const kafka = new Kafka({ clientId: 'weft-kafka-test', brokers: [mock.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
const raw = kafka.producer({ allowAutoTopicCreation: true });
const admin = kafka.admin();
await Promise.all([raw.connect(), admin.connect()]);

const brokers: Broker[] = [];
const readers: { disconnect(): Promise<void> }[] = [];
after(async () => {
  await Promise.allSettled(brokers.map((broker) => broker.close()));
  await Promise.allSettled(readers.map((reader) => reader.disconnect()));
  await Promise.allSettled([raw.disconnect(), admin.disconnect()]);
  await mock.stop();
});

async function connect(at = url): Promise<Broker> {
  const broker = await openBroker(at);
  brokers.push(broker);
  return broker;
}

const queueName = (what: string) => `weft-test.kafka-${what}.${randomBytes(4).toString('hex')}`;

/** A record as weft writes one: weft's content type, a MessagePack body. */
const weftRecord = (body: unknown) => ({ value: codec.encode(body), headers: { 'content-type': CONTENT_TYPE } });

/** Writes records to partition 0 of a queue's topic, in this order (making the topic). */
async function toPartition0(queue: string, ...records: { value: Buffer | string; headers?: IHeaders }[]): Promise<void> {
  await raw.send({ topic: queueTopic(queue), acks: -1, messages: records.map((record) => ({ ...record, partition: 0 })) });
}

/** The queue group's committed offset of partition 0 and its metadata (weft's delivered end). */
async function committed(queue: string): Promise<{ offset: number; metadata: string | null }> {
  const [topic] = await admin.fetchOffsets({ groupId: queueGroup(queue), topics: [queueTopic(queue)] });
  const entry = topic!.partitions.find((p) => p.partition === 0)!;
  return { offset: Number(entry.offset), metadata: entry.metadata };
}

/** Resolves once `check()` does, asked again after each answer; rejects saying `what` after `timeoutMs`. */
async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    last = await check();
    if (last !== undefined) return last as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Every record of a topic, from its start, as kafkajs reads it (a group of its own). */
function readTopic(topic: string): Collector<KafkaMessage> {
  const records = new Collector<KafkaMessage>();
  const reader = kafka.consumer({ groupId: `weft-test-reader.${randomBytes(4).toString('hex')}`, sessionTimeout: 10_000, heartbeatInterval: 1000, maxWaitTimeInMs: 100 });
  readers.push(reader);
  void (async () => {
    await reader.connect();
    await reader.subscribe({ topic, fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => records.push(message) });
  })();
  return records;
}

const header = (message: KafkaMessage, name: string) => message.headers?.[name]?.toString();

describe('kafka adapter on librdkafka\'s mock cluster', { concurrency: true }, () => {
  test('an ack commits only the contiguous run of settled offsets; the commit records the delivered end', async () => {
    const broker = await connect();
    const queue = queueName('contiguous');
    await toPartition0(queue, weftRecord('r0'), weftRecord('r1'), weftRecord('r2'));
    const held = new Collector<Message<string>>();
    await broker.consume(queue, held.push, { autoAck: false, prefetch: 10 });
    const [r0, r1, r2] = await held.waitFor(3, 10_000, 'the first three records');
    assert.deepEqual([r0, r1, r2].map((m) => m!.body), ['r0', 'r1', 'r2']);
    await r1!.ack();
    await r2!.ack();
    // A record handed out later was recorded by a commit made after those acks.
    await toPartition0(queue, weftRecord('r3'));
    const [, , , r3] = await held.waitFor(4, 5000, 'r3');
    assert.deepEqual(await committed(queue), { offset: 0, metadata: 'weft:4' }, 'r1 and r2 are settled, but r0 is not: nothing is committed past it');
    assert.deepEqual(await broker.queueStats(queue), { waiting: 0, unacked: 4, consumers: undefined });
    await r0!.ack(); // resolves once committed: r0..r2 is now a settled run
    assert.equal((await committed(queue)).offset, 3);
    await r3!.ack();
    assert.equal((await committed(queue)).offset, 4);
    assert.deepEqual(await broker.queueStats(queue), { waiting: 0, unacked: 0, consumers: undefined });
  });

  test('a consumer that closes without settling: the next one gets exactly what was not settled, redelivered only what was handed out', async () => {
    const [first, second] = [await connect(), await connect()];
    const queue = queueName('handback');
    await toPartition0(queue, weftRecord(0), weftRecord(1), weftRecord(2), weftRecord(3));
    const held = new Collector<Message<number>>();
    await first.consume(queue, held.push, { autoAck: false, prefetch: 2 });
    const [m0, m1] = await held.waitFor(2, 10_000, 'two records at the first consumer');
    assert.deepEqual([m0!.body, m1!.body], [0, 1]);
    await m0!.ack();
    const [, , m2] = await held.waitFor(3, 5000, 'the record the ack let in');
    assert.equal(m2!.body, 2);
    await first.close(); // records 1 and 2 unsettled, 3 never handed out
    assert.deepEqual(await committed(queue), { offset: 1, metadata: 'weft:3' });
    const again = new Collector<Message<number>>();
    await second.consume(queue, again.push, { autoAck: false });
    const messages = await again.waitFor(3, 10_000, 'the records the first consumer did not settle');
    assert.deepEqual(messages.map((m) => [m.body, m.redelivered]), [[1, true], [2, true], [3, false]], 'record 0 was acked: never again; 1 and 2 were handed out before, 3 was not');
    for (const message of messages) await message.ack();
    assert.equal((await committed(queue)).offset, 4);
  });

  test('another program\'s records are dead-lettered with their reason, never handled, and do not hold the partition back', async () => {
    const broker = await connect();
    const queue = queueName('foreign');
    const json = JSON.stringify({ job: 1 });
    await toPartition0(queue, { value: 'A' }, { value: json, headers: { 'content-type': 'application/json' } }, weftRecord('after'));
    const handled = new Collector<Message<string>>();
    const errors = new Collector<Error>();
    await broker.consume(queue, handled.push, { autoAck: false, onError: errors.push });
    const [after] = await handled.waitFor(1, 10_000, 'the weft record after the foreign ones');
    assert.equal(after!.body, 'after');
    await after!.ack();
    const refused = await errors.waitFor(2, 5000, 'two refusals');
    assert.ok(refused.every((error) => error instanceof ProtocolError && /not a weft message/.test(error.message)), refused.map((e) => e.message).join('; '));
    const dead = await readTopic(deadLetterTopic(queue)).waitFor(2, 10_000, 'dead letters');
    // Dead letters are spread over the dead-letter topic's partitions: in no particular order.
    assert.deepEqual(dead.map((m) => [m.value?.toString(), header(m, 'weft-dead-reason'), header(m, 'weft-dead-queue')]).sort(), [
      ['A', 'not-weft (content type: none)', queue],
      [json, 'not-weft (content type: application/json)', queue],
    ]);
    await eventually(async () => ((await committed(queue)).offset === 3 ? true : undefined), 'the commit past the foreign records and the acked one');
    assert.equal(handled.items.length, 1, 'only the weft record reached the handler');
  });

  test('prefetch: never more unsettled records than prefetch, over every partition; the server counts them as unacked', async () => {
    const broker = await connect();
    const queue = queueName('prefetch');
    for (let i = 0; i < 12; i++) await broker.publish(queue, i); // spread over the topic's partitions
    const held = new Collector<Message<number>>();
    let settled = 0;
    let most = 0;
    await broker.consume(queue, (message: Message<number>) => {
      held.push(message);
      most = Math.max(most, held.items.length - settled);
    }, { autoAck: false, prefetch: 3 });
    await held.waitFor(3, 10_000, 'three records');
    assert.deepEqual(await broker.queueStats(queue), { waiting: 9, unacked: 3, consumers: undefined }, 'three handed out (recorded before they were), nine waiting');
    for (let i = 0; i < 12; i++) {
      const [message] = (await held.waitFor(i + 1, 5000, `record ${i + 1} of 12`)).slice(i);
      settled++;
      await message!.ack();
    }
    assert.equal(most, 3);
    assert.deepEqual(held.items.map((m) => m.body).sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i));
    await eventually(async () => {
      const stats = await broker.queueStats(queue);
      return stats.waiting === 0 && stats.unacked === 0 ? true : undefined;
    }, 'every ack committed');
  });

  test('nack(requeue) puts a copy on the queue\'s retry topic, read by the same group; past maxAttempts, and on nack without requeue, a dead letter says why', async () => {
    const broker = await connect(`${url}&maxAttempts=2`);
    const queue = queueName('retry');
    await toPartition0(queue, weftRecord('a'), weftRecord('b'));
    const held = new Collector<Message<string>>();
    await broker.consume(queue, held.push, { autoAck: false, prefetch: 1 });
    const [a] = await held.waitFor(1, 10_000, 'a');
    assert.deepEqual([a!.body, a!.redelivered], ['a', false]);
    await a!.nack(true);
    const copies = await readTopic(retryTopic(queue)).waitFor(1, 10_000, 'the copy of a on the retry topic');
    assert.deepEqual([codec.decode(copies[0]!.value!), header(copies[0]!, 'weft-attempt')], ['a', '2']);
    // b (the queue's topic) and the copy of a (the retry topic) come in either order: the
    // consumer hands out both topics' partitions round robin.
    for (let n = 2; n <= 3; n++) {
      const next = (await held.waitFor(n, 10_000, n === 2 ? 'b or the copy of a' : 'the other of b and the copy of a'))[n - 1]!;
      if (next.body === 'b') {
        assert.equal(next.redelivered, false);
        await next.nack(false);
      } else {
        assert.deepEqual([next.body, next.redelivered], ['a', true]);
        await next.nack(true); // its second attempt of two: dead
      }
    }
    assert.deepEqual(held.items.map((m) => m.body).sort(), ['a', 'a', 'b']);
    const queueHigh = (await admin.fetchTopicOffsets(queueTopic(queue))).reduce((sum, { high }) => sum + Number(high), 0);
    const retryHigh = (await admin.fetchTopicOffsets(retryTopic(queue))).reduce((sum, { high }) => sum + Number(high), 0);
    assert.deepEqual([queueHigh, retryHigh], [2, 1], 'a and b on the queue\'s topic, only the copy of a on the retry topic');
    const dead = await readTopic(deadLetterTopic(queue)).waitFor(2, 10_000, 'two dead letters');
    assert.deepEqual(dead.map((m) => [codec.decode(m.value!), header(m, 'weft-dead-reason'), header(m, 'weft-attempt') ?? null]).sort(), [
      ['a', 'max-attempts', '2'],
      ['b', 'rejected', null],
    ]);
    assert.equal((await committed(queue)).offset, 2, 'every record of the queue\'s partition settled');
    await eventually(async () => {
      const [offsets] = await admin.fetchOffsets({ groupId: queueGroup(queue), topics: [retryTopic(queue)] });
      const settled = offsets!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      return settled === 1 ? true : undefined;
    }, 'the copy of a committed on the retry topic by the queue\'s group');
    const stats = await broker.queueStats(queue);
    assert.deepEqual([stats.waiting, stats.unacked], [0, 0], 'queueStats counts both topics: nothing left');
  });

  test('request/reply runs through the inbox topic: a program that is not weft answers with the inbox number and correlationId headers', async () => {
    const broker = await connect();
    const queue = queueName('rpc');
    const responder = kafka.consumer({ groupId: `weft-test-responder.${randomBytes(4).toString('hex')}`, sessionTimeout: 10_000, heartbeatInterval: 1000, maxWaitTimeInMs: 100 });
    readers.push(responder);
    const asked = new Collector<KafkaMessage>();
    await responder.connect();
    await responder.subscribe({ topic: queueTopic(queue), fromBeginning: true });
    await responder.run({
      eachMessage: async ({ message }) => {
        asked.push(message);
        const replyTo = header(message, 'weft-reply-to')!;
        const n = replyTo.slice(replyTo.lastIndexOf('.') + 1);
        await raw.send({
          topic: replyTo.slice(0, replyTo.lastIndexOf('.')),
          messages: [{
            value: codec.encode([true, (codec.decode(message.value!) as number) * 2]),
            headers: { 'content-type': CONTENT_TYPE, 'weft-inbox': n, 'weft-correlation-id': header(message, 'weft-correlation-id')! },
          }],
        });
      },
    });
    assert.equal(await broker.request(queue, 21, { timeout: 15_000 }), 42);
    const [question] = await asked.waitFor(1);
    assert.match(header(question!, 'weft-reply-to')!, /^weft\.inbox\.[0-9a-f]{16}\.\d+$/);
    assert.ok(header(question!, 'weft-correlation-id'));
    assert.equal(header(question!, 'content-type'), CONTENT_TYPE);
  });

  test('a cluster that goes away: a call that needs it rejects with ConnectionClosedError, later ones with ClosedError', async () => {
    const own = await startKafkaMock();
    try {
      const broker = await openBroker(own.url, { connectTimeout: 1000 });
      brokers.push(broker);
      await broker.publish(queueName('before'), 'the cluster answers');
      const lost = new Promise<Error>((resolve) => void broker.closed.then(resolve));
      await own.stop();
      await assert.rejects(broker.publish(queueName('after'), 'nobody there'), ConnectionClosedError);
      assert.ok((await lost) instanceof ConnectionClosedError);
      await assert.rejects(broker.queueStats(queueName('later')), ClosedError);
    } finally {
      await own.stop();
    }
    await assert.rejects(openBroker(own.url, { connectTimeout: 1000 }), ConnectionClosedError);
  });
});
