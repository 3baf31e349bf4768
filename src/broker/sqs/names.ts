/**
 * Where weft's queues, inboxes and topic subscriptions live on SQS: queue names. SQS takes 1
 * to 80 characters of [A-Za-z0-9_-] (and `.fifo` at the end of a FIFO queue's name); weft's
 * names are any string. Every name starts with the URL's prefix (`weft-` by default), then:
 *
 *   queue `jobs`            <prefix>jobs              letters, digits and '-' as they are;
 *   queue `a.b ✓`           <prefix>a_2eb_20_e2_9c_93  every other UTF-8 byte as `_` + 2 hex digits
 *   a name too long         <prefix><start>_h<hash>    the escaped start, then 32 hex of its SHA-256
 *   inbox                   <prefix>__i<random>.fifo
 *   subscription of topic   <prefix>__t<token>__<random>.fifo (token: the topic escaped or hashed)
 *
 * The escaped form never holds `__` nor `_` before a letter past f, so the three families
 * cannot meet, and ListQueues on `<prefix>__t<token>__` finds one topic's subscriptions only.
 */
import { createHash, randomBytes } from 'node:crypto';

/** SQS's longest queue name. */
const MAX_NAME = 80;
const FIFO = '.fifo';
/** Hex digits of a hashed name: 128 bits, no collision in practice. */
const HASH_HEX = 32;
/** Hex digits of a subscription's own part: 48 bits, among the few subscribers of one topic. */
const SUBSCRIPTION_HEX = 12;
const INBOX_HEX = 16;
const INBOX_MARK = '__i';
const TOPIC_MARK = '__t';
/** The URL's prefix is at most this long, so that every family above fits in 80. */
export const MAX_PREFIX = 40;
export const DEFAULT_PREFIX = 'weft-';

/** A weft queue's redrive target: an ordinary weft queue, readable with consume() and queueStats(). */
export const deadLetterQueueOf = (queue: string): string => `${queue}.dlq`;
/** Queues that get no dead-letter queue of their own (a dead-letter queue's dead letters stay put). */
export const isDeadLetterQueue = (queue: string): boolean => queue.endsWith('.dlq');

/** Letters, digits and '-' stay; every other byte of the UTF-8 becomes `_xx`. */
export function escapeName(name: string): string {
  let out = '';
  for (const char of name) {
    if (/^[A-Za-z0-9-]$/.test(char)) out += char;
    else for (const byte of Buffer.from(char, 'utf8')) out += `_${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function hashOf(name: string, hexDigits: number): string {
  return createHash('sha256').update(name, 'utf8').digest('hex').slice(0, hexDigits);
}

/** `name` escaped when that fits in `room` characters, else the escaped start and `_h<hash>`. */
function fitted(name: string, room: number, hashHex = HASH_HEX): string {
  const escaped = escapeName(name);
  if (escaped.length <= room) return escaped;
  const hash = `_h${hashOf(name, Math.min(hashHex, room - 2))}`;
  // The cut must not leave half an escape (`_` or `_x`) before the hash's own `_`.
  const start = escaped.slice(0, Math.max(0, room - hash.length)).replace(/_[0-9a-f]?$/, '');
  return start + hash;
}

/** The SQS queue of weft queue `queue`. */
export function sqsQueueName(prefix: string, queue: string): string {
  return prefix + fitted(queue, MAX_NAME - prefix.length);
}

/** A fresh inbox queue's name (a FIFO queue: an inbox keeps each sender's order). */
export function newInboxName(prefix: string): string {
  return `${prefix}${INBOX_MARK}${randomBytes(INBOX_HEX / 2).toString('hex')}${FIFO}`;
}

/** What every inbox queue's name starts with. */
export const inboxPrefix = (prefix: string): string => prefix + INBOX_MARK;

/** True for a name newInboxName() could have made (whatever the prefix). */
export function isInboxName(name: string): boolean {
  return new RegExp(`^[A-Za-z0-9_-]{0,${MAX_PREFIX}}${INBOX_MARK}[0-9a-f]{${INBOX_HEX}}\\${FIFO}$`).test(name);
}

/** What the names of every subscription queue of `topic` start with: what broadcast() lists. */
export function topicPrefix(prefix: string, topic: string): string {
  const room = MAX_NAME - prefix.length - TOPIC_MARK.length - 2 - SUBSCRIPTION_HEX - FIFO.length;
  return `${prefix}${TOPIC_MARK}${fitted(topic, room)}__`;
}

/** A fresh subscription queue's name for `topic`. */
export function newSubscriptionName(prefix: string, topic: string): string {
  return `${topicPrefix(prefix, topic)}${randomBytes(SUBSCRIPTION_HEX / 2).toString('hex')}${FIFO}`;
}

/** The queue name at the end of a queue URL (`.../123456789012/name`). */
export function nameOfUrl(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}
