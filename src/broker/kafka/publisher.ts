/**
 * Sends records in order. Data flow: send() queues a record → while no request is in flight,
 * everything queued (up to about one server message limit of bytes) goes in one produce
 * request, acks=all → each send() resolves or rejects with its request. One request in flight
 * at a time keeps the records of one partition in the order sent (kafkajs alone may reorder
 * concurrent sends), and batching makes up for it: records queued meanwhile share the next one.
 */
import type { IHeaders, Message, Producer, TopicMessages } from 'kafkajs';

export interface OutgoingRecord {
  key?: Buffer | string;
  /** Where it goes; omitted: the partitioner chooses (by key, else spread). */
  partition?: number;
  value: Buffer;
  headers: IHeaders;
}

interface Pending {
  topic: string;
  record: OutgoingRecord;
  resolve(): void;
  reject(error: unknown): void;
}

export class Publisher {
  readonly #producer: Producer;
  /** Bytes of bodies per request beyond which the rest waits for the next one. */
  readonly #maxBytes: number;
  #queue: Pending[] = [];
  #sending = false;

  constructor(producer: Producer, maxBytes: number) {
    this.#producer = producer;
    this.#maxBytes = maxBytes;
  }

  send(topic: string, record: OutgoingRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ topic, record, resolve, reject });
      if (!this.#sending) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#take();
        const byTopic = new Map<string, Message[]>();
        for (const { topic, record } of batch) {
          let messages = byTopic.get(topic);
          if (!messages) byTopic.set(topic, (messages = []));
          messages.push(record);
        }
        const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
        try {
          await this.#producer.sendBatch({ topicMessages, acks: -1 });
          for (const pending of batch) pending.resolve();
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.#sending = false;
    }
  }

  #take(): Pending[] {
    let bytes = 0;
    let count = 0;
    while (count < this.#queue.length && (count === 0 || bytes + this.#queue[count]!.record.value.length <= this.#maxBytes)) {
      bytes += this.#queue[count]!.record.value.length;
      count++;
    }
    return this.#queue.splice(0, count);
  }
}
