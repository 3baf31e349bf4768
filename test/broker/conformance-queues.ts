/**
 * The conformance suite's tests of a queue's life beyond one delivery: a live consumer keeps
 * what it holds, however long; the server's figures of a queue. Run by brokerConformance().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/broker/types.js';
import { Collector, type ConformanceContext } from './conformance-helpers.js';

/** How long the slow handler holds its message: several times the suite's redeliverAfter (400 ms). */
const HOLD_MS = 1500;

export function queueConformance({ connect, queueName }: ConformanceContext): void {
  test('a live consumer keeps the message it holds however long its handler runs: no second delivery meanwhile, nor after the ack', async () => {
    const [holder, other, publisher] = [await connect(), await connect(), await connect()];
    const queue = queueName('hold');
    const held = new Collector<Message>();
    let release!: () => void;
    const holdEnded = new Promise<void>((resolve) => (release = resolve));
    const holding = await holder.consume(queue, async (message) => {
      held.push(message);
      await holdEnded;
    }, { prefetch: 1 });
    await publisher.publish(queue, 'slow work');
    await held.waitFor(1, 5000, 'the message at the holder');
    const elsewhere = new Collector<Message>();
    const otherConsumer = await other.consume(queue, elsewhere.push);
    // The hold ends on a timer: the test is about time passing (redeliverAfter ×3 and more).
    setTimeout(release, HOLD_MS);
    await holdEnded;
    assert.equal(elsewhere.items.length, 0, `no second delivery while the holder worked for ${HOLD_MS} ms`);
    assert.equal(held.items.length, 1, 'nor to the holder itself');
    // The holder acks as its handler returns (cancel waits for that); a marker after it reaches
    // the other consumer, and nothing of the held message comes before it.
    await holding.cancel();
    await publisher.publish(queue, 'marker');
    const [first] = await elsewhere.waitFor(1, 5000, 'the marker at the other consumer');
    assert.equal(first!.body, 'marker');
    await otherConsumer.cancel();
  });

  test('queueStats: the server\'s figures; a queue that does not exist reports zeros', async () => {
    const [worker, publisher] = [await connect(), await connect()];
    const queue = queueName('stats');
    const none = await publisher.queueStats(queueName('never-used'));
    assert.equal(none.waiting, 0);
    assert.ok(none.unacked === 0 || none.unacked === undefined, `unacked ${none.unacked}`);
    assert.ok(none.consumers === 0 || none.consumers === undefined, `consumers ${none.consumers}`);
    for (let i = 0; i < 3; i++) await publisher.publish(queue, i);
    const before = await publisher.queueStats(queue);
    assert.equal(before.waiting, 3, 'three published, nobody consumes');
    const held = new Collector<Message>();
    const consumer = await worker.consume(queue, held.push, { prefetch: 1, autoAck: false });
    await held.waitFor(1, 5000, 'the first message');
    const holding = await publisher.queueStats(queue);
    assert.equal(holding.waiting, 2, 'two wait while one is held');
    if (holding.unacked !== undefined) assert.equal(holding.unacked, 1);
    if (holding.consumers !== undefined) assert.equal(holding.consumers, 1);
    await held.items[0]!.ack();
    for (let i = 1; i < 3; i++) await (await held.waitFor(i + 1, 5000, 'the next message'))[i]!.ack();
    await consumer.cancel();
    const after = await publisher.queueStats(queue);
    assert.equal(after.waiting, 0);
    if (after.unacked !== undefined) assert.equal(after.unacked, 0);
    if (after.consumers !== undefined) assert.equal(after.consumers, 0, 'a cancelled consumer is not counted');
    await assert.rejects(publisher.queueStats(''), TypeError);
  });
}
