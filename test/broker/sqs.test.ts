// The SQS adapter against fauxqs (an SQS emulator, in this process): what it keeps on the
// server, dead letters and the redrive policy, prefetch above SQS's 10 a receive, a cancelled
// consumer's receives, queues deleted behind its back, inbox and subscription queues made and
// deleted (and swept when orphaned), sizes, an endpoint that does not answer, and the AWS SDK
// loaded for sqs:// URLs only.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ListQueuesCommand, ReceiveMessageCommand, SQSClient,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { ConnectionClosedError, ProtocolError } from '../../src/index.js';
import { Codec } from '../../src/remote/codec.js';
import { openBroker } from '../../src/broker/open.js';
import { removeQueues } from '../../src/broker/remove-queues.js';
import { sqsQueueName } from '../../src/broker/sqs/names.js';
import type { Broker, Message, RefusedMessage } from '../../src/broker/types.js';
import { Collector } from './conformance-helpers.js';
import { startEmulator } from './sqs-emulator.js';

const emulator = await startEmulator();
const prefix = new URL(emulator.url).pathname.slice(1);
const raw = new SQSClient({ endpoint: `http://127.0.0.1:${emulator.port}`, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
after(() => raw.destroy());

const queueUrl = async (queue: string): Promise<string | undefined> => {
  try {
    return (await raw.send(new GetQueueUrlCommand({ QueueName: sqsQueueName(prefix, queue) }))).QueueUrl;
  } catch {
    return undefined;
  }
};
const listed = async (namePrefix: string): Promise<string[]> => (await raw.send(new ListQueuesCommand({ QueueNamePrefix: namePrefix }))).QueueUrls ?? [];

describe('the SQS adapter on fauxqs', () => {
  const brokers: Broker[] = [];
  const queues: string[] = [];
  const open = async (query = ''): Promise<Broker> => {
    const broker = await openBroker(`${emulator.url}${query}`);
    brokers.push(broker);
    return broker;
  };
  const queueName = (what: string): string => {
    const name = `sqs-test.${what}.${randomBytes(4).toString('hex')}`;
    queues.push(name, `${name}.dlq`);
    return name;
  };
  after(async () => {
    await Promise.allSettled(brokers.map((broker) => broker.close()));
    await removeQueues(emulator.url, queues);
  });

  test('on the server: the body is base64 of MessagePack, the properties are attributes; the queue has 14 days\' retention and a redrive policy to <queue>.dlq', async () => {
    const broker = await open();
    const queue = queueName('stored');
    await broker.publish(queue, { n: 1 }, { headers: { trace: 'abc' }, correlationId: 'c 1', replyTo: 'answers' });
    const url = (await queueUrl(queue))!;
    const { Messages = [] } = await raw.send(new ReceiveMessageCommand({ QueueUrl: url, MessageAttributeNames: ['All'] }));
    const [message] = Messages;
    assert.deepEqual(new Codec().decode(Buffer.from(message!.Body!, 'base64')), { n: 1 });
    const attributes = Object.fromEntries(Object.entries(message!.MessageAttributes!).map(([name, value]) => [name, value.StringValue]));
    assert.deepEqual(attributes, {
      'Content-Type': 'application/x-msgpack', 'Weft-Reply-To': 'answers', 'Weft-Correlation-Id': 'c%201', 'Weft-Headers': '{"trace":"abc"}',
    });
    const { Attributes = {} } = await raw.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
    assert.equal(Attributes.MessageRetentionPeriod, '1209600');
    const deadUrl = (await queueUrl(`${queue}.dlq`))!;
    const dead = await raw.send(new GetQueueAttributesCommand({ QueueUrl: deadUrl, AttributeNames: ['QueueArn', 'RedrivePolicy'] }));
    assert.deepEqual(JSON.parse(Attributes.RedrivePolicy!), { deadLetterTargetArn: dead.Attributes!.QueueArn, maxReceiveCount: '10' });
    assert.equal(dead.Attributes!.RedrivePolicy, undefined, 'a dead-letter queue has none of its own');
  });

  test('nack(false) moves a message to <queue>.dlq with its reason; one received maxReceiveCount times goes there by the redrive policy', async () => {
    const broker = await open('?maxReceiveCount=2');
    const queue = queueName('dead');
    const held = new Collector<Message<string>>();
    await broker.consume(queue, held.push, { autoAck: false, prefetch: 1 });
    await broker.publish(queue, 'refused');
    await (await held.waitFor(1, 5000, 'the first message'))[0]!.nack(false);
    await broker.publish(queue, 'poison');
    for (let receive = 1; receive <= 2; receive++) {
      const message = (await held.waitFor(receive + 1, 5000, `receive ${receive} of the poison message`))[receive]!;
      assert.equal(message.body, 'poison');
      await message.nack(true);
    }
    const dead = new Collector<Message<string>>();
    const deadConsumer = await broker.consume(`${queue}.dlq`, dead.push);
    const arrived = await dead.waitFor(2, 5000, 'both messages in the dead-letter queue');
    assert.deepEqual(arrived.map((m) => m.body).sort(), ['poison', 'refused']);
    assert.equal(arrived.find((m) => m.body === 'refused')!.headers['Weft-Dead-Reason'], 'nacked without requeue');
    assert.equal(held.items.length, 3, 'the third receive moved it instead of delivering it');
    assert.equal((await broker.queueStats(queue)).waiting, 0);
    // A dead letter nacked without requeue is deleted: no dead-letter queue of a dead-letter queue.
    await deadConsumer.cancel();
    const again = new Collector<Message<string>>();
    await broker.consume(`${queue}.dlq`, again.push, { autoAck: false });
    await broker.publish(`${queue}.dlq`, 'dead twice');
    await (await again.waitFor(1, 5000, 'the dead letter'))[0]!.nack(false);
    assert.equal(await queueUrl(`${queue}.dlq.dlq`), undefined);
    assert.deepEqual(Object.values(await broker.queueStats(`${queue}.dlq`)).slice(0, 2), [0, 0]);
  });

  test('another program\'s message is refused and dead-lettered with the reason, its body and attributes as they were', async () => {
    const broker = await open();
    const queue = queueName('foreign');
    const errors = new Collector<Error>();
    const handled = new Collector<Message<string>>();
    await broker.consume(queue, handled.push, { onError: errors.push });
    await raw.send(new SendMessageCommand({ QueueUrl: (await queueUrl(queue))!, MessageBody: 'A', MessageAttributes: { kind: { DataType: 'String', StringValue: 'plain' } } }));
    await broker.publish(queue, 'weft');
    assert.deepEqual((await handled.waitFor(1, 5000, 'the weft message')).map((m) => m.body), ['weft']);
    assert.ok((await errors.waitFor(1, 5000, 'the refusal'))[0] instanceof ProtocolError);
    const dead = new Collector<RefusedMessage>();
    await broker.consume(`${queue}.dlq`, () => assert.fail('a foreign body reached a handler'), {
      onRefused: async (_error, message) => {
        dead.push(message);
        await message.ack();
      },
    });
    const [message] = await dead.waitFor(1, 5000, 'the refused message in the dead-letter queue');
    assert.equal(Buffer.from(message!.payload).toString(), 'A');
    assert.deepEqual({ ...message!.headers }, { kind: 'plain', 'Weft-Dead-Reason': 'refused: not a weft message (content type: none)' });
  });

  test('maxReceiveCount=0: no dead-letter queue is made, and nack(false) deletes', async () => {
    const broker = await open('?maxReceiveCount=0');
    const queue = queueName('nodead');
    const held = new Collector<Message<string>>();
    await broker.consume(queue, held.push, { autoAck: false });
    await broker.publish(queue, 'gone');
    await (await held.waitFor(1, 5000, 'the message'))[0]!.nack(false);
    const stats = await broker.queueStats(queue);
    assert.deepEqual([stats.waiting, stats.unacked], [0, 0]);
    assert.equal(await queueUrl(`${queue}.dlq`), undefined);
  });

  test('a prefetch above 10 (SQS\'s most a receive) is filled by receives side by side, and never passed', async () => {
    const broker = await open();
    const queue = queueName('prefetch');
    await Promise.all(Array.from({ length: 30 }, (_, i) => broker.publish(queue, i)));
    const held = new Collector<Message<number>>();
    await broker.consume(queue, held.push, { autoAck: false, prefetch: 25 });
    await held.waitFor(25, 5000, '25 messages');
    assert.equal((await broker.queueStats(queue)).unacked, 25);
    assert.equal(held.items.length, 25, 'no 26th while 25 are unsettled');
    for (const message of held.items.slice(0, 25)) await message.ack();
    const all = await held.waitFor(30, 5000, 'the other 5');
    assert.deepEqual(all.map((m) => m.body).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i));
  });

  test('a consumer cancelled with receives out strands nothing: the next message reaches another consumer long before the visibility timeout', async () => {
    const broker = await open('?redeliverAfter=30000');
    const queue = queueName('cancel');
    for (let round = 0; round < 3; round++) {
      const first = new Collector<Message<string>>();
      const consumer = await broker.consume(queue, first.push, { prefetch: 30 });
      await broker.publish(queue, `warm ${round}`);
      await first.waitFor(1, 5000, 'a message at the first consumer');
      // Its receive is still out: the oldest waiter, it takes the next message and gives it
      // back at once (which then comes redelivered: SQS counted a receive).
      await consumer.cancel();
      const second = new Collector<Message<string>>();
      const other = await broker.consume(queue, second.push);
      const sent = Date.now();
      await broker.publish(queue, `after ${round}`);
      const [message] = await second.waitFor(1, 5000, 'the message at the second consumer');
      assert.equal(message!.body, `after ${round}`);
      assert.ok(Date.now() - sent < 5000, 'not after the 30 s visibility timeout');
      await other.cancel();
    }
  });

  test('close() resolves after the acks asked for before it reached SQS: nothing handled stays on the queue', async () => {
    const [worker, publisher] = [await openBroker(emulator.url), await open()];
    const queue = queueName('close-acks');
    const handled = new Collector<number>();
    await worker.consume(queue, (message: Message<number>) => void handled.push(message.body), { prefetch: 100 });
    await Promise.all(Array.from({ length: 300 }, (_, i) => publisher.publish(queue, i)));
    await handled.waitFor(300, 10_000, 'every message handled');
    await worker.close();
    const stats = await publisher.queueStats(queue);
    assert.deepEqual([stats.waiting, stats.unacked], [0, 0], 'every handled message was deleted before close() resolved');
  });

  test('a queue deleted behind the adapter\'s back is made again: publishing and consuming go on', async () => {
    const [consumer, publisher] = [await open(), await open()];
    const queue = queueName('deleted');
    const got = new Collector<Message<string>>();
    await consumer.consume(queue, got.push);
    await publisher.publish(queue, 'before');
    await got.waitFor(1, 5000, 'the message before the delete');
    await raw.send(new DeleteQueueCommand({ QueueUrl: (await queueUrl(queue))! }));
    await publisher.publish(queue, 'after');
    assert.deepEqual((await got.waitFor(2, 5000, 'the message after the delete')).map((m) => m.body), ['before', 'after']);
  });

  test('inbox and subscription queues are made when opened and deleted when closed', async () => {
    const closingPrefix = `${prefix}c${randomBytes(3).toString('hex')}-`;
    const broker = await openBroker(`sqs://127.0.0.1:${emulator.port}/${closingPrefix}`);
    const server = await openBroker(`sqs://127.0.0.1:${emulator.port}/${closingPrefix}`);
    const queue = 'echo';
    await server.consume(queue, (message) => message.body);
    assert.equal(await broker.request(queue, 5), 5);
    const subscription = await broker.subscribe('news', () => undefined);
    const inbox = await broker.openInbox(() => undefined);
    const ours = async () => (await listed(`${closingPrefix}__`)).length;
    assert.equal(await ours(), 3, 'the request\'s inbox, the subscription, the inbox');
    await subscription.cancel();
    await inbox.close();
    assert.equal(await ours(), 1);
    await broker.close();
    assert.equal(await ours(), 0);
    await server.close();
    await removeQueues(`sqs://127.0.0.1:${emulator.port}/${closingPrefix}`, [queue]);
  });

  test('an inbox queue left by a dead process (its weft-alive tag 11 minutes old) is swept when an inbox opens; a live one stays', async () => {
    const sweepPrefix = `${prefix}s${randomBytes(3).toString('hex')}-`;
    const make = async (ageMs: number) => (await raw.send(new CreateQueueCommand({
      QueueName: `${sweepPrefix}__i${randomBytes(8).toString('hex')}.fifo`,
      Attributes: { FifoQueue: 'true' },
      tags: { 'weft-alive': String(Date.now() - ageMs) },
    }))).QueueUrl!;
    const [orphan, alive] = [await make(11 * 60_000), await make(60_000)];
    const broker = await openBroker(`sqs://127.0.0.1:${emulator.port}/${sweepPrefix}`);
    await broker.openInbox(() => undefined);
    let sweptUrls = await listed(sweepPrefix);
    const deadline = Date.now() + 5000;
    // The sweep runs in the background: each listing is a round trip to the emulator.
    while (sweptUrls.includes(orphan) && Date.now() < deadline) sweptUrls = await listed(sweepPrefix);
    assert.ok(!sweptUrls.includes(orphan), 'the orphan was deleted within 5 s');
    assert.ok(sweptUrls.includes(alive), 'the live one stays');
    await broker.close();
    await raw.send(new DeleteQueueCommand({ QueueUrl: alive }));
  });

  test('a message too large for SQS is refused with a RangeError before anything is sent; the client goes on', async () => {
    const broker = await open();
    const queue = queueName('large');
    await assert.rejects(broker.publish(queue, new Uint8Array(200_000)), (error: Error) => error instanceof RangeError && /more than the limit of 195072/.test(error.message));
    await assert.rejects(broker.publish(queue, new Uint8Array(190_000), { headers: { big: 'x'.repeat(10_000) } }), /more than SQS's limit of 262144/);
    await broker.publish(queue, new Uint8Array(190_000));
    const got = new Collector<Message<Uint8Array>>();
    await broker.consume(queue, got.push);
    assert.equal((await got.waitFor(1, 5000, 'the large message'))[0]!.body.length, 190_000);
  });

  test('an endpoint that does not answer: open rejects with ConnectionClosedError, in bounded time', async () => {
    const started = Date.now();
    await assert.rejects(openBroker('sqs://127.0.0.1:1/x-', { connectTimeout: 1000 }), (error: Error) => {
      assert.ok(error instanceof ConnectionClosedError, error.name);
      assert.match(error.message, /cannot reach SQS at http:\/\/127\.0\.0\.1:1/);
      return true;
    });
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });

  test('the AWS SDK is loaded for sqs:// URLs only', async () => {
    const fixture = fileURLToPath(new URL('../fixtures/sqs-sdk-loaded.js', import.meta.url));
    // Not spawnSync: the emulator answering the child runs in this process.
    const child = spawn(process.execPath, [fixture, `${emulator.url}?connectTimeout=3000`], { env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
    let [stdout, stderr] = ['', ''];
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill(), 30_000);
    const [code] = await once(child, 'close');
    clearTimeout(timer);
    assert.equal(code, 0, `the child exited with ${code}: ${stderr}`);
    const [memory, sqs] = stdout.trim().split('\n').map((line) => JSON.parse(line) as string[]);
    assert.deepEqual(memory, [], 'a memory broker loads none of it');
    assert.ok(sqs!.includes('@aws-sdk/client-sqs'), `an sqs:// broker loads it: ${sqs!.join(', ')}`);
  });
});
