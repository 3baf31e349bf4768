/**
 * The Kafka adapter's topics: made on first use (CreateTopics, or the server's automatic topic
 * creation where CreateTopics is not offered, as on librdkafka's mock cluster), and a queue's
 * figures read from offsets without making anything.
 */
import type { Admin } from 'kafkajs';
import type { QueueStats } from '../types.js';
import { ConnectionClosedError } from '../../core/errors.js';
import { isConnectionError, kafkaErrorType, messageOf } from './client.js';
import { queueGroup, queueTopic, retryTopic } from './names.js';

/** The commit metadata weft writes: `weft:<n>`, n the offset after the last record handed to a consumer. */
const MARK = /^weft:(\d+)$/;

export function markMetadata(deliveredEnd: number): string {
  return `weft:${deliveredEnd}`;
}

/** The delivered end a commit's metadata records, or -1 when it records none (another client's commit). */
export function parseMark(metadata: string | null | undefined): number {
  const match = metadata ? MARK.exec(metadata) : null;
  return match ? Number(match[1]) : -1;
}

export class Topics {
  readonly #admin: Admin;
  readonly #partitions: number | undefined;
  readonly #made = new Map<string, Promise<void>>();
  /** False once the server said it has no CreateTopics (or no controller to take it): auto-creation only. */
  #canCreate = true;
  /** False once the server said it has no DescribeGroups: queueStats' consumers stays undefined. */
  #canDescribe = true;

  constructor(admin: Admin, partitions: number | undefined) {
    this.#admin = admin;
    this.#partitions = partitions;
  }

  /** Resolves once `topic` exists (made now, or before); made once per transport. */
  ensure(topic: string): Promise<void> {
    let made = this.#made.get(topic);
    if (!made) {
      made = this.#create(topic);
      this.#made.set(topic, made);
      made.catch(() => this.#made.delete(topic));
    }
    return made;
  }

  async #create(topic: string): Promise<void> {
    if (this.#canCreate) {
      try {
        await this.#admin.createTopics({
          topics: [{ topic, ...(this.#partitions === undefined ? {} : { numPartitions: this.#partitions }) }],
          waitForLeaders: true,
        });
        return;
      } catch (error) {
        if (kafkaErrorType(error) === 'TOPIC_ALREADY_EXISTS') return;
        // librdkafka's mock cluster names no controller and has no CreateTopics: from now on
        // this transport relies on the server making topics on first use.
        if (isUnsupported(error)) this.#canCreate = false;
        else throw error;
      }
    }
    try {
      // A metadata request for the topic makes it where the server auto-creates topics.
      await this.#admin.fetchTopicMetadata({ topics: [topic] });
    } catch (error) {
      // A server that went away is no server that refuses: the caller must be able to tell.
      if (isConnectionError(error)) throw new ConnectionClosedError(`cannot create the Kafka topic ${topic}: no answer from the cluster (${messageOf(error)})`, { cause: error });
      throw new Error(`cannot create the Kafka topic ${topic}: the server offers no CreateTopics and does not create topics on first use (${messageOf(error)})`, { cause: error });
    }
  }

  /**
   * Over the queue's topic and its retry topic, from offsets: per partition, records below the group's committed offset are settled; those
   * from it up to the delivered end recorded in the commit's metadata are `unacked` (handed to a
   * consumer, or settled out of order and not committed yet); the rest up to the high watermark
   * are `waiting`. `consumers` from DescribeGroups where the server has it.
   */
  async stats(queue: string): Promise<QueueStats> {
    const existing = new Set(await this.#admin.listTopics());
    const topics = [queueTopic(queue), retryTopic(queue)].filter((topic) => existing.has(topic));
    if (topics.length === 0) return { waiting: 0, unacked: 0, consumers: this.#canDescribe ? 0 : undefined };
    const groupId = queueGroup(queue);
    const [offsets, committed] = await Promise.all([
      Promise.all(topics.map((topic) => this.#admin.fetchTopicOffsets(topic))),
      this.#admin.fetchOffsets({ groupId, topics }),
    ]);
    let waiting = 0;
    let unacked = 0;
    topics.forEach((topic, t) => {
      for (const { partition, high, low } of offsets[t]!) {
        const entry = committed.find((c) => c.topic === topic)?.partitions.find((p) => p.partition === partition);
        const commit = entry && Number(entry.offset) >= 0 ? Number(entry.offset) : Number(low);
        const delivered = Math.min(Number(high), Math.max(commit, parseMark(entry?.metadata)));
        waiting += Math.max(0, Number(high) - delivered);
        unacked += Math.max(0, delivered - commit);
      }
    });
    return { waiting, unacked, consumers: await this.#consumers(groupId) };
  }

  async #consumers(groupId: string): Promise<number | undefined> {
    if (!this.#canDescribe) return undefined;
    try {
      const { groups } = await this.#admin.describeGroups([groupId]);
      return groups[0]?.members.length ?? 0;
    } catch (error) {
      if (!isUnsupported(error)) throw error;
      this.#canDescribe = false;
      return undefined;
    }
  }
}

/** The server does not offer the request (an API it lacks, or no controller to send it to). */
function isUnsupported(error: unknown): boolean {
  const name = (error as { name?: unknown }).name;
  return name === 'KafkaJSBrokerNotFound' || name === 'KafkaJSNotImplemented'
    || kafkaErrorType(error) === 'UNSUPPORTED_VERSION' || /does not support the requested API version/.test(messageOf(error));
}
