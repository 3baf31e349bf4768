/** Where weft's queues and topics live on a NATS server: stream names and subjects. */
import { createHash } from 'node:crypto';

/** The durable pull consumer every weft consumer of a queue shares. */
export const DURABLE = 'weft';

/** The JetStream stream that holds `queue`'s messages (for tools and tests that look at it). */
export function natsStreamName(queue: string): string {
  return `weft_${queueToken(queue)}`;
}

/** The core NATS subject of a topic. */
export function topicSubject(topic: string): string {
  return `weft.topic.${queueToken(topic)}`;
}

/** A stream-name- and subject-safe token for any queue name: hex of its UTF-8, or a hash when long. */
export function queueToken(queue: string): string {
  const bytes = Buffer.from(queue, 'utf8');
  return bytes.length <= 64 ? `q${bytes.toString('hex')}` : `h${createHash('sha256').update(bytes).digest('hex')}`;
}
