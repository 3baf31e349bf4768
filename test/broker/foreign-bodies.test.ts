// Bodies that other programs put where weft listens (issue 11 part 4a): each server's own
// client (ioredis, amqplib, nats, the AWS SDK against an SQS emulator) publishes the 1-byte text `A` (which MessagePack would read
// as the number 65) and a JSON body to a weft queue, inbox and topic. weft must refuse them:
// never hand them to a handler as values, report a ProtocolError, settle them (or give them to
// onRefused), and go on with the next weft message.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect as amqpConnect } from 'amqplib';
import { connect as natsConnect, headers as natsHeaders } from 'nats';
import { ProtocolError } from '../../src/core/errors.js';
import { openBroker } from '../../src/broker/open.js';
import { queueToken, topicSubject } from '../../src/broker/nats/names.js';
import { sqsQueueName, topicPrefix } from '../../src/broker/sqs/names.js';
import { removeQueues, removeTopics } from '../../src/broker/remove-queues.js';
import type { Broker, Message, RefusedMessage } from '../../src/broker/types.js';
import { Collector } from './conformance-helpers.js';
import { startEmulator } from './sqs-emulator.js';

/** How another program writes to where weft listens, with its server's own client. */
interface RawPublisher {
  toQueue(queue: string, body: string, contentType?: string): Promise<void>;
  toInbox(address: string, body: string): Promise<void>;
  toTopic(topic: string, body: string): Promise<void>;
  close(): Promise<void>;
}

const JSON_BODY = JSON.stringify({ job: 1, from: 'another program' });

function foreignBodies(kind: string, url: string, openRaw: () => Promise<RawPublisher>): void {
  describe(`foreign bodies: ${kind}`, () => {
    const queues: string[] = [];
    const topics: string[] = [];
    const name = (list: string[], what: string): string => {
      const value = `weft-test.${what}.${randomBytes(4).toString('hex')}`;
      list.push(value);
      return value;
    };
    const clients: Broker[] = [];
    let raw: RawPublisher | undefined;
    const setup = async (): Promise<{ broker: Broker; raw: RawPublisher }> => {
      const broker = await openBroker(url);
      clients.push(broker);
      raw ??= await openRaw();
      return { broker, raw };
    };
    after(async () => {
      await Promise.allSettled(clients.map((client) => client.close()));
      await raw?.close();
      await removeQueues(url, queues);
      await removeTopics(url, topics);
    });

    test('a queue message from another program never reaches the handler: onError gets a ProtocolError, it is settled, the next weft message is handled', async () => {
      const { broker, raw } = await setup();
      const queue = name(queues, 'foreign');
      const handled = new Collector<unknown>();
      const errors = new Collector<Error>();
      const consumer = await broker.consume(queue, (message: Message) => void handled.push(message.body), { onError: errors.push });
      await raw.toQueue(queue, 'A');
      await raw.toQueue(queue, JSON_BODY, 'application/json');
      await broker.publish(queue, 'a weft message');
      assert.deepEqual(await handled.waitFor(1, 5000, 'the weft message'), ['a weft message']);
      const refused = await errors.waitFor(2, 5000, 'the refusals');
      for (const error of refused) {
        assert.ok(error instanceof ProtocolError, `${error.name}: ${error.message}`);
        assert.ok(error.message.startsWith(`a message on ${queue} is not a weft message (content type: `), error.message);
      }
      assert.ok(refused.some((error) => /content type: (none|text\/plain)\)/.test(error.message)), 'the text `A` has no weft content type');
      assert.deepEqual(handled.items, ['a weft message'], 'the handler saw neither 65 nor the JSON');
      await consumer.cancel(); // waits for every settle
      const stats = await broker.queueStats(queue);
      assert.equal(stats.waiting, 0, 'the refused messages were not requeued');
      if (stats.unacked !== undefined) assert.equal(stats.unacked, 0, 'nor left unsettled');
    });

    test('onRefused gets a foreign message unsettled, with its bytes, and settles it itself', async () => {
      const { broker, raw } = await setup();
      const queue = name(queues, 'refused');
      const handled = new Collector<unknown>();
      const refused = new Collector<[ProtocolError, RefusedMessage]>();
      const consumer = await broker.consume(queue, (message: Message) => void handled.push(message.body), {
        onRefused: async (error, message) => {
          refused.push([error, message]);
          await message.ack();
        },
        onError: (error) => assert.fail(`onError heard of ${error.message}`),
      });
      await raw.toQueue(queue, 'A');
      await broker.publish(queue, 'after it');
      assert.deepEqual(await handled.waitFor(1, 5000, 'the weft message'), ['after it']);
      const [[error, message]] = (await refused.waitFor(1, 5000, 'the refused message')) as [[ProtocolError, RefusedMessage]];
      assert.ok(error instanceof ProtocolError);
      assert.equal(message.queue, queue);
      assert.deepEqual([...message.payload], [0x41], 'the raw bytes of `A`');
      assert.equal(message.redelivered, false);
      await assert.rejects(message.nack(false), /settled already/);
      await consumer.cancel();
      assert.equal((await broker.queueStats(queue)).waiting, 0);
    });

    test('an inbox and a topic refuse what another program sends them, and go on', async () => {
      const { broker, raw } = await setup();
      const topic = name(topics, 'foreign');
      const [atInbox, atTopic] = [new Collector<unknown>(), new Collector<unknown>()];
      const errors = new Collector<Error>();
      const inbox = await broker.openInbox((body) => atInbox.push(body), { onError: errors.push });
      await broker.subscribe(topic, (body) => atTopic.push(body), { onError: errors.push });
      await raw.toInbox(inbox.address, 'A');
      await raw.toTopic(topic, JSON_BODY);
      await broker.send(inbox.address, 'weft at the inbox');
      await broker.broadcast(topic, 'weft on the topic');
      assert.deepEqual(await atInbox.waitFor(1, 5000, 'the weft body at the inbox'), ['weft at the inbox']);
      assert.deepEqual(await atTopic.waitFor(1, 5000, 'the weft body on the topic'), ['weft on the topic']);
      const refused = await errors.waitFor(2, 5000, 'the refusals');
      assert.ok(refused.every((error) => error instanceof ProtocolError && /is not a weft message \(content type: /.test(error.message)), refused.map((e) => e.message).join('; '));
    });
  });
}

const redisUrl = new URL(process.env.WEFT_REDIS_URL ?? 'redis://127.0.0.1:6379/0');
foreignBodies('redis', redisUrl.href, async () => {
  const redis = new Redis(redisUrl.href);
  return {
    // Another program's entry: the body in a field named like weft's, no content type.
    toQueue: async (queue, body) => void (await redis.xadd(`weft:q:${queue}`, '*', 'p', body)),
    toInbox: async (address, body) => void (await redis.publish(address, body)),
    toTopic: async (topic, body) => void (await redis.publish(`weft:topic:${topic}`, body)),
    close: async () => void redis.disconnect(),
  };
});

const amqpUrl = 'amqp://guest:guest@127.0.0.1:5672';
foreignBodies('amqp', amqpUrl, async () => {
  const connection = await amqpConnect(amqpUrl);
  const channel = await connection.createConfirmChannel();
  const send = (exchange: string, key: string, body: string, contentType?: string): Promise<void> =>
    new Promise((resolve, reject) => channel.publish(exchange, key, Buffer.from(body), contentType ? { contentType } : {}, (error: unknown) => (error ? reject(error) : resolve())));
  return {
    toQueue: (queue, body, contentType) => send('', queue, body, contentType),
    toInbox: (address, body) => send('', address, body),
    toTopic: (topic, body) => send(`weft.topic.${topic}`, '', body, 'application/json'),
    close: () => connection.close(),
  };
});

const natsUrl = new URL('nats://127.0.0.1:4222');
foreignBodies('nats', `${natsUrl.href}?redeliverAfter=2000`, async () => {
  const nc = await natsConnect({ servers: natsUrl.host });
  const js = nc.jetstream();
  const encode = (body: string): Uint8Array => new TextEncoder().encode(body);
  return {
    toQueue: async (queue, body, contentType) => {
      const headers = natsHeaders();
      if (contentType) headers.set('Content-Type', contentType);
      await js.publish(`weft.q.${queueToken(queue)}`, encode(body), { headers });
    },
    toInbox: async (address, body) => {
      nc.publish(address, encode(body));
      await nc.flush();
    },
    toTopic: async (topic, body) => {
      nc.publish(topicSubject(topic), encode(body));
      await nc.flush();
    },
    close: () => nc.close(),
  };
});

// SQS: fauxqs in this process; another program's message has no Content-Type attribute (or
// another one) and a plain-text body. On SQS a refused queue message goes to `<queue>.dlq`.
const sqs = await startEmulator();
foreignBodies('sqs', `${sqs.url}?redeliverAfter=2000`, async () => {
  const { SQSClient, GetQueueUrlCommand, ListQueuesCommand, SendMessageCommand } = await import('@aws-sdk/client-sqs');
  const client = new SQSClient({ endpoint: `http://127.0.0.1:${sqs.port}`, region: 'us-east-1', credentials: { accessKeyId: 'other', secretAccessKey: 'program' } });
  const prefix = new URL(sqs.url).pathname.slice(1);
  const send = async (url: string, body: string, contentType?: string, fifo = false): Promise<void> => {
    await client.send(new SendMessageCommand({
      QueueUrl: url,
      MessageBody: body,
      ...(contentType ? { MessageAttributes: { 'Content-Type': { DataType: 'String', StringValue: contentType } } } : {}),
      ...(fifo ? { MessageGroupId: 'other', MessageDeduplicationId: randomBytes(8).toString('hex') } : {}),
    }));
  };
  const urlOf = async (name: string): Promise<string> => (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
  return {
    toQueue: async (queue, body, contentType) => send(await urlOf(sqsQueueName(prefix, queue)), body, contentType),
    toInbox: async (address, body) => send(await urlOf(address.slice('weft:inbox:'.length)), body, undefined, true),
    toTopic: async (topic, body) => {
      const { QueueUrls = [] } = await client.send(new ListQueuesCommand({ QueueNamePrefix: topicPrefix(prefix, topic) }));
      for (const url of QueueUrls) await send(url, body, 'application/json', true);
    },
    close: async () => client.destroy(),
  };
});
