/**
 * Bare nats.js for `weft bench broker` (see broker-bare.ts): what a program would write on NATS
 * by hand.
 *   throughput: JetStream publishes (each acknowledged by the stream), a window awaited at a
 *     time, to a work-queue stream; a durable pull consumer's consume() with max_messages =
 *     window, each message acked (msg.ack()) after counting it;
 *   round trip: a core NATS request (nc.request), answered by a subscription's respond().
 */
import type { NatsConnection } from 'nats';
import { loadPeer } from '../peers/load.js';
import { natsStreamName, queueToken } from '../broker/nats/names.js';
import { bareBody, Tally, type BareClient } from './broker-bare.js';

const DURABLE = 'bare';

export async function openBareNats(url: string, prefix: string, prefetch: number): Promise<BareClient> {
  const nats = await loadPeer('nats', 'the bare nats.js row');
  const servers = new URL(url).host;
  const connections: NatsConnection[] = [];
  const closeAll = async () => {
    for (const nc of connections) await nc.close().catch(() => undefined);
  };
  try {
    connections.push(await nats.connect({ servers, timeout: 3000 }));
    connections.push(await nats.connect({ servers, timeout: 3000 }));
    const [producer, consumer] = connections as [NatsConnection, NatsConnection];
    const queue = `${prefix}.bare.throughput`;
    const stream = natsStreamName(queue);
    const subject = `weft-bench-bare.${queueToken(queue)}`;
    const jsm = await producer.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [subject], retention: nats.RetentionPolicy.Workqueue, storage: nats.StorageType.File });
    await jsm.consumers.add(stream, { durable_name: DURABLE, ack_policy: nats.AckPolicy.Explicit, max_ack_pending: -1 });
    const js = producer.jetstream();

    const tally = new Tally();
    const pulled = await consumer.jetstream().consumers.get(stream, DURABLE);
    const messages = await pulled.consume({
      max_messages: prefetch,
      callback: (msg) => {
        JSON.parse(new TextDecoder().decode(msg.data));
        msg.ack();
        tally.add();
      },
    });

    const rpcSubject = `weft-bench-bare.rpc.${queueToken(queue)}`;
    const responder = consumer.subscribe(rpcSubject, {
      callback: (error, msg) => {
        if (error) return;
        const value = JSON.parse(new TextDecoder().decode(msg.data)) as number;
        msg.respond(new TextEncoder().encode(JSON.stringify(value + 1)));
      },
    });
    await consumer.flush();

    return {
      library: 'nats.js',
      roundTripIs: 'a core NATS request (nc.request)',
      queues: [queue],
      async throughput(count, window, stallMs) {
        const counted = tally.expect(count, stallMs);
        for (let start = 0; start < count; start += window) {
          const acks: Promise<unknown>[] = [];
          for (let i = start; i < Math.min(start + window, count); i++) acks.push(js.publish(subject, bareBody(i)));
          await Promise.all(acks);
        }
        return counted;
      },
      async request(value) {
        const answer = await producer.request(rpcSubject, new TextEncoder().encode(JSON.stringify(value)), { timeout: 10_000 });
        return JSON.parse(new TextDecoder().decode(answer.data)) as number;
      },
      async close() {
        await messages.close().catch(() => undefined);
        responder.unsubscribe();
        await closeAll();
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
