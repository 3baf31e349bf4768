/**
 * The conformance suite's tests of what is not a queue: private inboxes with send(), and
 * topics with broadcast()/subscribe(). Run by brokerConformance() against every adapter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from '../../src/broker/types.js';
import { Collector, type ConformanceContext } from './conformance-helpers.js';

export function channelConformance({ connect, queueName, topicName }: ConformanceContext): void {
  test('inboxes: bodies sent from another client arrive as plain values with their correlationId, in the order sent, each at its own inbox', async () => {
    const [owner, sender] = [await connect(), await connect()];
    const first = new Collector<[unknown, string | undefined]>();
    const second = new Collector<[unknown, string | undefined]>();
    const a = await owner.openInbox((body, id) => first.push([body, id]));
    const b = await owner.openInbox((body, id) => second.push([body, id]));
    assert.equal(typeof a.address, 'string');
    assert.notEqual(a.address, b.address);
    const body = { at: new Date(1_700_000_000_000), big: 2n ** 65n, map: new Map([['k', 1]]) };
    await sender.send(b.address, body, { correlationId: 'for-b' });
    for (let i = 0; i < 100; i++) await sender.send(a.address, i, { correlationId: `c-${i}` });
    const got = await first.waitFor(100, 5000, 'bodies at the first inbox');
    assert.deepEqual(got.map(([value]) => value), Array.from({ length: 100 }, (_, i) => i), 'in the order sent');
    assert.deepEqual(got.map(([, id]) => id), Array.from({ length: 100 }, (_, i) => `c-${i}`));
    assert.deepEqual(await second.waitFor(1, 5000, 'bodies at the second inbox'), [[body, 'for-b']]);
    assert.equal(second.items.length, 1, 'the second inbox got only what was sent to it');
    // Sends without waiting for each other keep their order too (one connection, one path).
    await Promise.all(Array.from({ length: 50 }, (_, i) => sender.send(a.address, 100 + i)));
    const all = await first.waitFor(150, 5000, 'bodies at the first inbox');
    assert.deepEqual(all.slice(100).map(([value]) => value), Array.from({ length: 50 }, (_, i) => 100 + i));
    assert.equal(all[100]![1], undefined, 'no correlationId when none was given');
  });

  test('send() to a name that is not an inbox publishes the body (plain, not an answer) to the queue of that name', async () => {
    const [sender, worker] = [await connect(), await connect()];
    const queue = queueName('sent');
    await sender.send(queue, { job: 1 }, { correlationId: 'j-1' });
    const seen = new Collector<Message>();
    await worker.consume(queue, seen.push);
    const [message] = await seen.waitFor(1, 5000, 'messages');
    assert.deepEqual(message!.body, { job: 1 });
    assert.equal(message!.correlationId, 'j-1');
  });

  test('a closed inbox gets nothing more, the client\'s other inboxes go on, and close() is idempotent', async () => {
    const [owner, sender] = [await connect(), await connect()];
    const closedOne = new Collector();
    const openOne = new Collector();
    const closing = await owner.openInbox(closedOne.push);
    const staying = await owner.openInbox(openOne.push);
    await sender.send(closing.address, 'before');
    await closedOne.waitFor(1, 5000, 'the body sent before closing');
    await closing.close();
    await closing.close();
    await sender.send(closing.address, 'after');
    await sender.send(staying.address, 'still open');
    await openOne.waitFor(1, 5000, 'the body at the inbox left open');
    await sleep(100); // a body for the closed inbox had the time to arrive
    assert.deepEqual(closedOne.items, ['before']);
  });

  test('an inbox handler that throws or rejects is reported to onError, and the inbox goes on', async () => {
    const [owner, sender] = [await connect(), await connect()];
    const errors = new Collector<Error>();
    const bodies = new Collector<unknown>();
    const inbox = await owner.openInbox(async (body) => {
      bodies.push(body);
      if (body === 'throw') throw new Error('inbox handler failed');
    }, { onError: errors.push });
    await sender.send(inbox.address, 'throw');
    await sender.send(inbox.address, 'fine');
    await bodies.waitFor(2, 5000, 'bodies');
    const [error] = await errors.waitFor(1, 5000, 'errors');
    assert.match(error!.message, /inbox handler failed/);
    assert.deepEqual(bodies.items, ['throw', 'fine']);
  });

  test('inbox and send refuse bad arguments with TypeError', async () => {
    const broker = await connect();
    await assert.rejects(broker.openInbox('nope' as never), TypeError);
    await assert.rejects(broker.openInbox(() => {}, { onError: 1 as never }), TypeError);
    await assert.rejects(broker.send('', 1), TypeError);
    await assert.rejects(broker.send('x', 1, { correlationId: 2 as never }), TypeError);
    await assert.rejects(broker.send('x', () => 1), TypeError);
  });

  test('topics: a broadcast reaches every subscription there is, on every client, the broadcaster\'s own too, once each, in the order sent', async () => {
    const [a, b, broadcaster] = [await connect(), await connect(), await connect()];
    const topic = topicName('fanout');
    const [atA, atA2, atB, own] = [new Collector(), new Collector(), new Collector(), new Collector()];
    await a.subscribe(topic, atA.push);
    await a.subscribe(topic, atA2.push);
    await b.subscribe(topic, atB.push);
    const mine = await broadcaster.subscribe(topic, own.push);
    assert.equal(mine.topic, topic);
    const body = { at: new Date(1_700_000_000_000), set: new Set([1, 2]) };
    await broadcaster.broadcast(topic, body);
    for (let i = 0; i < 20; i++) await broadcaster.broadcast(topic, i);
    const expected = [body, ...Array.from({ length: 20 }, (_, i) => i)];
    for (const [name, seen] of [['a', atA], ['a, twice', atA2], ['b', atB], ['the broadcaster', own]] as const) {
      assert.deepEqual(await seen.waitFor(21, 5000, `broadcasts at ${name}`), expected, name);
    }
    await sleep(100); // a duplicate had the time to arrive
    assert.deepEqual([atA, atA2, atB, own].map((seen) => seen.items.length), [21, 21, 21, 21], 'each got each body once');
  });

  test('topics keep nothing: a subscription made after a broadcast does not get it; a cancelled one gets nothing more', async () => {
    const [listener, broadcaster] = [await connect(), await connect()];
    const topic = topicName('late');
    await broadcaster.broadcast(topic, 'before anyone listened');
    const [staying, leaving] = [new Collector(), new Collector()];
    await listener.subscribe(topic, staying.push);
    const cancelled = await listener.subscribe(topic, leaving.push);
    await broadcaster.broadcast(topic, 'first');
    await leaving.waitFor(1, 5000, 'the broadcast before cancelling');
    await cancelled.cancel();
    await cancelled.cancel();
    await broadcaster.broadcast(topic, 'second');
    await staying.waitFor(2, 5000, 'both broadcasts at the subscription that stays');
    await sleep(100); // a body for the cancelled subscription had the time to arrive
    assert.deepEqual(staying.items, ['first', 'second']);
    assert.deepEqual(leaving.items, ['first']);
  });

  test('a subscription handler that throws is reported to onError; topics do not cross; bad arguments are TypeErrors', async () => {
    const [listener, broadcaster] = [await connect(), await connect()];
    const [topic, other] = [topicName('throws'), topicName('other')];
    const errors = new Collector<Error>();
    const bodies = new Collector();
    await listener.subscribe(topic, (body) => {
      bodies.push(body);
      if (body === 'throw') throw new Error('subscriber failed');
    }, { onError: errors.push });
    await broadcaster.broadcast(other, 'elsewhere');
    await broadcaster.broadcast(topic, 'throw');
    await broadcaster.broadcast(topic, 'fine');
    assert.deepEqual(await bodies.waitFor(2, 5000, 'broadcasts'), ['throw', 'fine']);
    assert.match((await errors.waitFor(1, 5000, 'errors'))[0]!.message, /subscriber failed/);
    await assert.rejects(listener.subscribe('', () => {}), TypeError);
    await assert.rejects(listener.subscribe(topic, 'nope' as never), TypeError);
    await assert.rejects(broadcaster.broadcast(topic, () => 1), TypeError);
  });
}
