/**
 * Where weft's queues, dead letters, inboxes and topics live on a Kafka cluster: topic names
 * and consumer group ids. Kafka topic names take [A-Za-z0-9._-], at most 249 characters; a
 * weft name that fits is used as it is (readable with Kafka's own tools), any other is hex-encoded
 * (or hashed when long) under a prefix a plain name can never produce.
 */
import { createHash } from 'node:crypto';

/** A queue's topic: `weft.q.<name>` (or `weft.q-x.<hex>`, `weft.q-h.<sha256>`). */
export function queueTopic(queue: string): string {
  return named('weft.q', queue);
}

/**
 * Where a queue's requeued messages go (nack with requeue): read by the same consumer group as
 * the queue's topic, so a retry is handled beside new work, not behind its partition's backlog.
 */
export function retryTopic(queue: string): string {
  return named('weft.retry', queue);
}

/** Where a queue's rejected messages (nack without requeue, too many attempts) go. */
export function deadLetterTopic(queue: string): string {
  return named('weft.dlq', queue);
}

/** A broadcast topic's Kafka topic. */
export function broadcastTopic(topic: string): string {
  return named('weft.t', topic);
}

/**
 * The consumer group that every weft consumer of a queue joins. One group per queue (its topic's
 * name), not one for all: a group rebalances as a whole whenever a member comes or goes.
 */
export function queueGroup(queue: string): string {
  return queueTopic(queue);
}

/** The topic a transport's inboxes share; each inbox is an address on it. */
export function inboxTopic(clientId: string): string {
  return `weft.inbox.${clientId}`;
}

const INBOX_ADDRESS = /^weft\.inbox\.([0-9a-f]{16})\.(\d{1,15})$/;

/** An inbox's address: `weft.inbox.<client id>.<n>`. */
export function inboxAddress(clientId: string, n: number): string {
  return `${inboxTopic(clientId)}.${n}`;
}

/** The inbox topic an address belongs to, or undefined when the address is not an inbox's (then it is a queue name). */
export function parseInboxAddress(address: string): { topic: string; clientId: string } | undefined {
  const match = INBOX_ADDRESS.exec(address);
  return match ? { topic: inboxTopic(match[1]!), clientId: match[1]! } : undefined;
}

function named(prefix: string, name: string): string {
  if (/^[A-Za-z0-9._-]{1,200}$/.test(name)) return `${prefix}.${name}`;
  const bytes = Buffer.from(name, 'utf8');
  return bytes.length <= 100 ? `${prefix}-x.${bytes.toString('hex')}` : `${prefix}-h.${createHash('sha256').update(bytes).digest('hex')}`;
}
