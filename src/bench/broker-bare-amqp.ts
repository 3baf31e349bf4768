/**
 * Bare amqplib for `weft bench broker` (see broker-bare.ts): what a program would write on
 * RabbitMQ by hand.
 *   throughput: persistent messages on a confirm channel, a window awaited at a time; the
 *     consumer's channel has prefetch = window and acks each message after counting it;
 *   round trip: direct reply-to (`amq.rabbitmq.reply-to`): the request on the channel that
 *     consumes the pseudo-queue, the responder sends the answer there and acks the request.
 */
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { loadPeer } from '../peers/load.js';
import { bareBody, Tally, type BareClient } from './broker-bare.js';

const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

export async function openBareAmqp(url: string, prefix: string, prefetch: number): Promise<BareClient> {
  const { connect } = await loadPeer('amqplib', 'the bare amqplib row');
  // Two connections, as weft's row has: the publishing side and the consuming side.
  const producerConnection = await connect(url, { noDelay: true });
  let consumerConnection: ChannelModel;
  try {
    consumerConnection = await connect(url, { noDelay: true });
  } catch (error) {
    await producerConnection.close().catch(() => undefined);
    throw error;
  }
  for (const connection of [producerConnection, consumerConnection]) connection.on('error', () => undefined);
  const closeAll = async () => {
    await consumerConnection.close().catch(() => undefined);
    await producerConnection.close().catch(() => undefined);
  };
  try {
    return await setUp();
  } catch (error) {
    await closeAll();
    throw error;
  }

  async function setUp(): Promise<BareClient> {
    const queues = [`${prefix}.bare.throughput`, `${prefix}.bare.rpc`];
    const [throughputQueue, rpcQueue] = queues as [string, string];

    const publisher = await producerConnection.createConfirmChannel();
    for (const queue of queues) await publisher.assertQueue(queue, { durable: true });
    const requester = await producerConnection.createChannel();
    const answers = new Map<string, (value: number) => void>();
    await requester.consume(DIRECT_REPLY_TO, (msg) => {
      if (!msg) return;
      answers.get(msg.properties.correlationId as string)?.(JSON.parse(msg.content.toString()) as number);
    }, { noAck: true });

    const tally = new Tally();
    const consumer = await consumerConnection.createChannel();
    await consumer.prefetch(prefetch);
    await consumer.consume(throughputQueue, (msg) => {
      if (!msg) return;
      JSON.parse(msg.content.toString());
      consumer.ack(msg);
      tally.add();
    });
    const responder = await consumerConnection.createChannel();
    await responder.prefetch(prefetch);
    await responder.consume(rpcQueue, (msg: ConsumeMessage | null) => {
      if (!msg) return;
      const value = JSON.parse(msg.content.toString()) as number;
      responder.sendToQueue(msg.properties.replyTo as string, Buffer.from(JSON.stringify(value + 1)), { correlationId: msg.properties.correlationId as string });
      responder.ack(msg);
    });
    let nextId = 0;

    return {
      library: 'amqplib',
      roundTripIs: 'direct reply-to (amq.rabbitmq.reply-to)',
      queues,
      async throughput(messages, window, stallMs) {
        const counted = tally.expect(messages, stallMs);
        for (let start = 0; start < messages; start += window) {
          const confirms: Promise<void>[] = [];
          for (let i = start; i < Math.min(start + window, messages); i++) {
            confirms.push(new Promise<void>((resolve, reject) => {
              publisher.sendToQueue(throughputQueue, bareBody(i), { persistent: true }, (error: unknown) => (error ? reject(error as Error) : resolve()));
            }));
          }
          await Promise.all(confirms);
        }
        return counted;
      },
      request(value) {
        const correlationId = String(nextId++);
        return new Promise<number>((resolve) => {
          answers.set(correlationId, (answer) => {
            answers.delete(correlationId);
            resolve(answer);
          });
          requester.sendToQueue(rpcQueue, Buffer.from(JSON.stringify(value)), { replyTo: DIRECT_REPLY_TO, correlationId });
        });
      },
      close: closeAll,
    };
  }
}
