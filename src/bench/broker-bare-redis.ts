/**
 * Bare ioredis for `weft bench broker` (see broker-bare.ts): what a program would write on
 * Redis streams by hand.
 *   throughput: each window of XADDs in one pipeline; the consumer's connection sends
 *     XACK + XDEL of what it counted and its next XREADGROUP in one pipeline;
 *   round trip: XADD, a responder blocked in XREADGROUP answers with PUBLISH + XACK + XDEL in one
 *     pipeline, the requester's subscriber connection hears it.
 */
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { loadPeer } from '../peers/load.js';
import { streamKey } from '../broker/redis/entries.js';
import { bareBody, Tally, type BareClient } from './broker-bare.js';

const GROUP = 'bare';
/** A blocked read returns this often, so that close() never waits long. */
const BLOCK_MS = 200;

type Entries = Array<[id: string, fields: string[]]>;
type ReadReply = Array<[key: string, entries: Entries]> | null;

export async function openBareRedis(url: string, prefix: string, prefetch: number): Promise<BareClient> {
  const { Redis } = await loadPeer('ioredis', 'the bare ioredis row');
  const connections: Redis[] = [];
  const connect = async (): Promise<Redis> => {
    const connection = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
    connection.on('error', () => undefined);
    connections.push(connection);
    await connection.connect();
    return connection;
  };
  let producer: Redis, consumer: Redis, responder: Redis, subscriber: Redis;
  try {
    [producer, consumer, responder, subscriber] = [await connect(), await connect(), await connect(), await connect()];
  } catch (error) {
    for (const connection of connections) connection.disconnect();
    throw error;
  }
  const queues = [`${prefix}.bare.throughput`, `${prefix}.bare.rpc`];
  const [throughputKey, rpcKey] = queues.map(streamKey) as [string, string];
  for (const key of [throughputKey, rpcKey]) await producer.xgroup('CREATE', key, GROUP, '0', 'MKSTREAM');
  const replyChannel = `weft-bench-bare:${randomUUID()}`;
  let stopping = false;

  const tally = new Tally();
  // Acks of the last batch go in the same pipeline as the next read: one round trip per batch.
  const consumeLoop = (async () => {
    let ids: string[] = [];
    while (!stopping) {
      const pipeline = consumer.pipeline();
      if (ids.length) pipeline.xack(throughputKey, GROUP, ...ids).xdel(throughputKey, ...ids);
      pipeline.xreadgroup('GROUP', GROUP, 'c', 'COUNT', prefetch, 'BLOCK', BLOCK_MS, 'STREAMS', throughputKey, '>');
      const results = await pipeline.exec().catch(() => null);
      if (!results) break;
      const [error, reply] = results[results.length - 1]!;
      if (error) break;
      const entries = (reply as ReadReply)?.[0]?.[1] ?? [];
      ids = entries.map(([id]) => id);
      for (const [, fields] of entries) JSON.parse(fields[1]!);
      if (entries.length) tally.add(entries.length);
    }
  })();

  const answers = new Map<number, (value: number) => void>();
  await subscriber.subscribe(replyChannel);
  subscriber.on('message', (_channel: string, message: string) => {
    const { id, value } = JSON.parse(message) as { id: number; value: number };
    answers.get(id)?.(value);
  });
  let nextId = 0;
  const respondLoop = (async () => {
    while (!stopping) {
      const reply = (await responder.xreadgroup('GROUP', GROUP, 'r', 'COUNT', prefetch, 'BLOCK', BLOCK_MS, 'STREAMS', rpcKey, '>').catch(() => null)) as ReadReply;
      for (const [id, fields] of reply?.[0]?.[1] ?? []) {
        const { id: requestId, value } = JSON.parse(fields[1]!) as { id: number; value: number };
        await responder.pipeline()
          .publish(replyChannel, JSON.stringify({ id: requestId, value: value + 1 }))
          .xack(rpcKey, GROUP, id).xdel(rpcKey, id)
          .exec();
      }
    }
  })();

  return {
    library: 'ioredis',
    roundTripIs: 'XADD, answered with PUBLISH + XACK + XDEL in one pipeline',
    queues,
    async throughput(messages, window, stallMs) {
      const counted = tally.expect(messages, stallMs);
      for (let start = 0; start < messages; start += window) {
        const pipeline = producer.pipeline();
        for (let i = start; i < Math.min(start + window, messages); i++) pipeline.xadd(throughputKey, '*', 'p', bareBody(i));
        const results = await pipeline.exec();
        const failed = results?.find(([error]) => error);
        if (failed) throw failed[0]!;
      }
      return counted;
    },
    request(value) {
      const id = nextId++;
      return new Promise<number>((resolve, reject) => {
        answers.set(id, (answer) => {
          answers.delete(id);
          resolve(answer);
        });
        producer.xadd(rpcKey, '*', 'p', JSON.stringify({ id, value })).catch((error: Error) => {
          answers.delete(id);
          reject(error);
        });
      });
    },
    async close() {
      stopping = true;
      await Promise.all([consumeLoop, respondLoop]);
      for (const connection of connections) connection.disconnect();
    },
  };
}
