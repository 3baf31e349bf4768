import { withoutSettings } from './open.js';
import { loadPeer } from '../peers/load.js';

/**
 * Deletes queues from a broker's server: what the benchmark and the tests use to leave no
 * queues behind (the Broker API itself has no delete: queues are the server admin's business).
 * Each server's client library is loaded only when its scheme comes up. Memory and weft
 * queues go with their process, so there is nothing to do for those.
 */
export async function removeQueues(url: string | URL, names: string[]): Promise<void> {
  if (names.length === 0) return;
  const parsed = withoutSettings(new URL(url));
  switch (parsed.protocol) {
    case 'redis:':
    case 'rediss:': {
      const { Redis } = await loadPeer('ioredis', 'redis:// broker URLs');
      const redis = new Redis(parsed.href);
      try {
        await redis.del(...names.map((name) => `weft:q:${name}`));
      } finally {
        redis.disconnect();
      }
      return;
    }
    case 'amqp:':
    case 'amqps:': {
      const { connect } = await loadPeer('amqplib', 'amqp:// broker URLs');
      const connection = await connect(parsed.href);
      try {
        const channel = await connection.createChannel();
        for (const name of names) await channel.deleteQueue(name);
      } finally {
        await connection.close();
      }
      return;
    }
    case 'nats:': {
      const [{ connect }, { natsStreamName }] = await Promise.all([loadPeer('nats', 'nats:// broker URLs'), import('./nats/names.js')]);
      const nc = await connect({ servers: parsed.host });
      try {
        const jsm = await nc.jetstreamManager();
        // A stream is made on first use: one never used is not there to delete.
        for (const name of names) await jsm.streams.delete(natsStreamName(name)).catch(() => undefined);
      } finally {
        await nc.close();
      }
      return;
    }
    case 'sqs:':
    case 'sqss:': {
      const { removeSqsQueues } = await import('./sqs/admin.js');
      await removeSqsQueues(parsed, names);
      return;
    }
    default:
      return;
  }
}

/**
 * Deletes what a server keeps for topics: RabbitMQ's fanout exchanges `weft.topic.<name>`
 * (Redis channels and NATS subjects leave nothing behind).
 */
export async function removeTopics(url: string | URL, names: string[]): Promise<void> {
  if (names.length === 0) return;
  const parsed = withoutSettings(new URL(url));
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') return;
  const { connect } = await loadPeer('amqplib', 'amqp:// broker URLs');
  const connection = await connect(parsed.href);
  try {
    const channel = await connection.createChannel();
    for (const name of names) await channel.deleteExchange(`weft.topic.${name}`);
  } finally {
    await connection.close();
  }
}
