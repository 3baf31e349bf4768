/**
 * The broker conformance suite: the same behaviour tests run against every adapter through
 * the public API (openBroker). An adapter's test file calls
 *
 *   brokerConformance('redis', 'redis://127.0.0.1:6379?redeliverAfter=400');
 *
 * with a URL whose `redeliverAfter` is short, so that the crash test finishes quickly. Every
 * test uses fresh queue names; `removeQueues` deletes them from the server afterwards.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { CancelledError, ClosedError, ConnectionClosedError, InvalidStateError, RemoteError, TimeoutError } from '../../src/index.js';
import { openBroker } from '../../src/broker/open.js';
import type { Broker, Message } from '../../src/broker/types.js';
import { TcpRelay } from './transport-helpers.js';
import { Collector, type ConformanceContext } from './conformance-helpers.js';
import { channelConformance } from './conformance-channels.js';
import { queueConformance } from './conformance-queues.js';

/** Collects messages and lets a test wait for a count. */
class Inbox<T = unknown> extends Collector<Message<T>> {
  get messages(): Message<T>[] {
    return this.items;
  }

  override waitFor(count: number, timeoutMs = 5000): Promise<Message<T>[]> {
    return super.waitFor(count, timeoutMs, 'messages');
  }
}

export interface ConformanceOptions {
  /** How long a crashed consumer's message may take to come back; omitted where a child process cannot share the broker (memory). */
  crashRedeliveryMs?: number;
  /** Removes the server's queues of these names after the suite (the public API has no way to). */
  removeQueues?: (names: string[]) => Promise<void>;
  /** Removes what the server keeps for these topics (RabbitMQ's exchanges). */
  removeTopics?: (names: string[]) => Promise<void>;
  /**
   * For the test of a server that goes away, and how long the client may take to notice: the
   * server's port (it goes away behind a TCP relay), or a server of its own the test starts and
   * stops (where clients connect to addresses the server advertises, as Kafka's do, a relay in
   * front of the first one would not be in the way).
   */
  loss?: { port: number; withinMs: number } | { server: () => Promise<{ url: string; stop(): Promise<void> }>; withinMs: number };
  /**
   * Set, to the reason, where one publisher's messages to a queue may be handled out of the order
   * sent (Kafka keeps order within a partition only, and a queue's topic has several).
   */
  unorderedQueues?: string;
}

export function brokerConformance(kind: string, url: string, options: ConformanceOptions): void {
  describe(`broker conformance: ${kind}`, () => {
    const open: Broker[] = [];
    const connect = async (): Promise<Broker> => {
      const broker = await openBroker(url);
      open.push(broker);
      return broker;
    };
    const queues: string[] = [];
    const queueName = (what: string) => {
      const name = `weft-test.${what}.${randomBytes(4).toString('hex')}`;
      queues.push(name);
      return name;
    };
    const topics: string[] = [];
    const topicName = (what: string) => {
      const name = `weft-test.${what}.${randomBytes(4).toString('hex')}`;
      topics.push(name);
      return name;
    };
    after(async () => {
      await Promise.allSettled(open.map((broker) => broker.close()));
      await options.removeQueues?.(queues);
      await options.removeTopics?.(topics);
    });
    const context: ConformanceContext = { kind, url, connect, queueName, topicName };
    channelConformance(context);
    queueConformance(context);

    test('a message published before anyone consumes waits, and arrives with its body, headers and properties', async () => {
      const broker = await connect();
      assert.equal(broker.kind, kind);
      const queue = queueName('roundtrip');
      const body = { n: 1, big: 2n ** 70n, when: new Date(1_700_000_000_000), tags: new Set(['a']), map: new Map([[1, 'one']]), bytes: new Uint8Array([0, 255, 7]), text: 'héllo ✓' };
      const replies = queueName('replies');
      await broker.publish(queue, body, { headers: { trace: 'abc' }, correlationId: 'c-1', replyTo: replies });
      const inbox = new Inbox<typeof body>();
      await broker.consume(queue, inbox.push, { autoAck: false });
      const [message] = await inbox.waitFor(1);
      await message!.ack();
      assert.deepEqual(message!.body, body);
      assert.equal(message!.headers.trace, 'abc');
      assert.equal(message!.correlationId, 'c-1');
      assert.equal(message!.replyTo, replies);
      assert.equal(message!.redelivered, false);
      assert.equal(message!.queue, queue);
    });

    test('each message goes to exactly one of two consumers, and none is lost', async () => {
      const [a, b, publisher] = [await connect(), await connect(), await connect()];
      const queue = queueName('share');
      const seen = new Inbox<number>();
      await a.consume(queue, seen.push);
      await b.consume(queue, seen.push);
      for (let i = 0; i < 40; i++) await publisher.publish(queue, i);
      const messages = await seen.waitFor(40);
      assert.deepEqual(messages.map((m) => m.body).sort((x, y) => x - y), Array.from({ length: 40 }, (_, i) => i));
      await sleep(100);
      assert.equal(seen.messages.length, 40, 'no message was delivered twice');
    });

    test('prefetch bounds the unsettled messages a consumer holds; settling lets the next one in', async () => {
      const broker = await connect();
      const queue = queueName('prefetch');
      for (let i = 0; i < 5; i++) await broker.publish(queue, i);
      const held = new Inbox<number>();
      await broker.consume(queue, held.push, { prefetch: 2, autoAck: false });
      await held.waitFor(2);
      await sleep(200);
      assert.equal(held.messages.length, 2, 'no third message while two are unsettled');
      await held.messages[0]!.ack();
      await held.waitFor(3);
      for (const message of held.messages.slice(1)) await message.ack();
      await held.waitFor(5);
      for (const message of held.messages.slice(3)) await message.ack();
    });

    test('nack(requeue) delivers again with redelivered set; nack without requeue drops; settling twice is refused', async () => {
      const broker = await connect();
      const queue = queueName('nack');
      const inbox = new Inbox<string>();
      await broker.consume(queue, inbox.push, { autoAck: false });
      await broker.publish(queue, 'again');
      const [first] = await inbox.waitFor(1);
      assert.equal(first!.redelivered, false);
      await first!.nack(true);
      await assert.rejects(first!.ack(), InvalidStateError);
      const [, second] = await inbox.waitFor(2);
      assert.equal(second!.body, 'again');
      assert.equal(second!.redelivered, true);
      await second!.nack(false);
      await broker.publish(queue, 'marker');
      const [, , third] = await inbox.waitFor(3);
      assert.equal(third!.body, 'marker', 'the dropped message did not come back');
      await third!.ack();
      await sleep(100);
      assert.equal(inbox.messages.length, 3);
    });

    test('autoAck: a returned value acks; a throw nacks without requeue and reaches onError', async () => {
      const broker = await connect();
      const queue = queueName('autoack');
      const errors: Error[] = [];
      const handled = new Inbox<string>();
      await broker.consume(queue, (message: Message<string>) => {
        handled.push(message);
        if (message.body === 'bad') throw new Error('cannot handle bad');
        return 'ok';
      }, { onError: (error) => errors.push(error) });
      await broker.publish(queue, 'good');
      await broker.publish(queue, 'bad');
      await broker.publish(queue, 'marker');
      await handled.waitFor(3);
      await sleep(150);
      const bodies = handled.messages.map((m) => m.body);
      if (options.unorderedQueues === undefined) assert.deepEqual(bodies, ['good', 'bad', 'marker'], 'nothing came back');
      else assert.deepEqual([...bodies].sort(), ['bad', 'good', 'marker'], 'nothing came back (in any order)');
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /cannot handle bad/);
      assert.ok(handled.messages.every((m) => (m as unknown as { settled: boolean }).settled));
    });

    test('request/reply: the answer comes back; a thrown error rejects the request; many requests in parallel match their answers', async () => {
      const [server, client] = [await connect(), await connect()];
      const queue = queueName('rpc');
      await server.consume(queue, (message: Message<{ x: number }>) => {
        if (message.body.x < 0) throw new RangeError(`negative: ${message.body.x}`);
        return message.body.x * message.body.x;
      });
      assert.equal(await client.request(queue, { x: 7 }, { timeout: 5000 }), 49);
      const answers = await Promise.all(Array.from({ length: 50 }, (_, x) => client.request<number>(queue, { x }, { timeout: 5000 })));
      assert.deepEqual(answers, Array.from({ length: 50 }, (_, x) => x * x));
      await assert.rejects(client.request(queue, { x: -1 }, { timeout: 5000 }), (error: unknown) => {
        assert.ok(error instanceof RemoteError);
        assert.equal(error.remoteName, 'RangeError');
        assert.match(error.message, /negative: -1/);
        return true;
      });
    });

    test('an answer to a message whose replyTo is a queue lands in that queue as [ok, value] with the correlationId', async () => {
      const broker = await connect();
      const [queue, answers] = [queueName('ask'), queueName('answers')];
      await broker.consume(queue, (message: Message<number>) => message.body + 1);
      await broker.publish(queue, 41, { replyTo: answers, correlationId: 'question-1' });
      const inbox = new Inbox<[boolean, number]>();
      await broker.consume(answers, inbox.push);
      const [answer] = await inbox.waitFor(1);
      assert.deepEqual(answer!.body, [true, 42]);
      assert.equal(answer!.correlationId, 'question-1');
    });

    test('a request nobody answers times out with TimeoutError; an aborted one rejects with CancelledError', async () => {
      const broker = await connect();
      const queue = queueName('silent');
      await assert.rejects(broker.request(queue, 1, { timeout: 150 }), TimeoutError);
      const controller = new AbortController();
      const pending = broker.request(queue, 2, { timeout: 5000, signal: controller.signal });
      controller.abort();
      await assert.rejects(pending, CancelledError);
    });

    test('a client that closes with unsettled messages gives them back: another consumer gets them, redelivered', async () => {
      const [first, second] = [await connect(), await connect()];
      const queue = queueName('handback');
      const held = new Inbox<number>();
      await first.consume(queue, held.push, { autoAck: false, prefetch: 2 });
      await second.publish(queue, 1);
      await second.publish(queue, 2);
      await held.waitFor(2);
      await first.close();
      const again = new Inbox<number>();
      await second.consume(queue, again.push);
      const messages = await again.waitFor(2, 5000);
      assert.deepEqual(messages.map((m) => m.body).sort(), [1, 2]);
      assert.ok(messages.every((m) => m.redelivered));
    });

    const crashSkip = options.crashRedeliveryMs === undefined && `a ${kind} broker cannot be shared with a child process`;
    test('a consumer process that dies holding a message: the message is delivered again', { skip: crashSkip }, async () => {
      const broker = await connect();
      const queue = queueName('crash');
      const child = fork(new URL('../fixtures/broker-crash-consumer.js', import.meta.url), [url, queue], { stdio: 'ignore' });
      // Listened for from the start: the child exits right after its last message, and its
      // 'exit' may even come before that message is read ('close' comes after its IPC closed).
      const exited = once(child, 'close');
      const messages = new Collector<unknown>();
      child.on('message', messages.push);
      const failed = exited.then(([code]) => {
        if (messages.items.length < 2) throw new Error(`the crash consumer exited with code ${code} after ${messages.items.length} of 2 messages`);
      });
      const [ready] = await Promise.race([messages.waitFor(1, 10_000, 'the crash consumer ready'), failed.then(() => [])]);
      assert.deepEqual(ready, { ready: true });
      await broker.publish(queue, 'held by the dead');
      await Promise.race([messages.waitFor(2, 10_000, 'the crash consumer\'s message'), failed]);
      assert.deepEqual(messages.items[1], { got: 'held by the dead' });
      await exited;
      const again = new Inbox<string>();
      await broker.consume(queue, again.push);
      const [message] = await again.waitFor(1, options.crashRedeliveryMs);
      assert.equal(message!.body, 'held by the dead');
      assert.equal(message!.redelivered, true);
    });

    test('bad input is refused with a clear error and the client stays usable', async () => {
      const broker = await connect();
      const queue = queueName('bad');
      await assert.rejects(broker.publish(queue, { callback: () => 1 }), (error: unknown) => error instanceof TypeError && /cannot be sent/.test(error.message));
      await assert.rejects(broker.publish(queue, Symbol('s')), TypeError);
      await assert.rejects(broker.publish('', 1), TypeError);
      await assert.rejects(broker.publish(queue, 1, { headers: { n: 1 as unknown as string } }), TypeError);
      await assert.rejects(broker.consume(queue, (() => {}) as never, { prefetch: 0 }), RangeError);
      await assert.rejects(broker.consume(queue, 'nope' as never), TypeError);
      const small = await openBroker(url, { maxMessageSize: 1024 });
      open.push(small);
      await assert.rejects(small.publish(queue, 'x'.repeat(2000)), RangeError);
      const inbox = new Inbox();
      await broker.consume(queue, inbox.push);
      await broker.publish(queue, 'still fine');
      assert.equal((await inbox.waitFor(1))[0]!.body, 'still fine');
    });

    const lossSkip = options.loss === undefined && `a ${kind} broker has no server to lose`;
    test('a server that goes away: what waits rejects with ConnectionClosedError in bounded time, later calls with ClosedError', { skip: lossSkip }, async () => {
      const loss = options.loss!;
      let viaRelay: URL;
      let takeAway: () => Promise<void>;
      if ('port' in loss) {
        const relay = await TcpRelay.start(loss.port);
        viaRelay = new URL(url);
        viaRelay.hostname = '127.0.0.1';
        viaRelay.port = String(relay.port);
        takeAway = () => relay.shut();
      } else {
        const server = await loss.server();
        viaRelay = new URL(server.url);
        for (const [name, value] of new URL(url).searchParams) viaRelay.searchParams.set(name, value);
        takeAway = () => server.stop();
      }
      const { withinMs } = loss;
      const broker = await openBroker(viaRelay, { connectTimeout: 1000 });
      open.push(broker);
      const queue = queueName('lost');
      const errors: Error[] = [];
      await broker.consume(queue, () => new Promise(() => {}), { onError: (error) => errors.push(error) });
      const pending = broker.request(queue, 'never answered', { timeout: 60_000 });
      await sleep(200); // the request reached the server and its consumer
      const started = Date.now();
      // Expected before the server goes: a client may notice while takeAway() still waits for it.
      const rejected = assert.rejects(pending, ConnectionClosedError);
      await takeAway();
      await rejected;
      assert.ok(Date.now() - started < withinMs, `noticed after ${Date.now() - started} ms`);
      await assert.rejects(broker.publish(queue, 'after'), ClosedError);
      await broker.close();
    });

    test('close(): pending requests reject with ConnectionClosedError, later calls with ClosedError, and close is idempotent', async () => {
      const broker = await openBroker(url);
      const pending = assert.rejects(broker.request(queueName('closing'), 1, { timeout: 10_000 }), ConnectionClosedError);
      await sleep(50);
      await broker.close();
      await pending;
      await assert.rejects(broker.publish('x', 1), ClosedError);
      await broker.close();
    });
  });
}
