/**
 * Reads a topic for one listener (a transport's inboxes, or one subscription), in a consumer
 * group of its own so that it gets every partition. Nothing is committed: the listener keeps its
 * own position per partition (the high watermarks when it began, or the start of a new inbox
 * topic) and puts kafkajs back there after every join, so a restarted member neither skips nor
 * repeats records.
 */
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { FETCH_WAIT_MS, RETRY, isConnectionError } from './client.js';

export interface ListenerOptions {
  kafka: Kafka;
  topic: string;
  groupId: string;
  /** Where to begin, per partition; a partition not listed is read from its start. */
  positions: Map<number, number>;
  sessionTimeout: number;
  heartbeatInterval: number;
  onRecord(message: KafkaMessage): void;
  /** Whether the cluster still answers (after kafkajs gave up on a connection). */
  reachable(): Promise<boolean>;
  /** kafkajs gave up on the cluster. */
  lost(error: Error): void;
}

export class TopicListener {
  readonly #options: ListenerOptions;
  readonly #positions: Map<number, number>;
  readonly #consumer;
  #stopped = false;
  #stopping: Promise<void> | undefined;

  constructor(options: ListenerOptions) {
    this.#options = options;
    this.#positions = new Map(options.positions);
    this.#consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeout,
      heartbeatInterval: options.heartbeatInterval,
      maxWaitTimeInMs: FETCH_WAIT_MS,
      retry: { ...RETRY, restartOnFailure: async (error) => !isConnectionError(error) || options.reachable() },
    });
    const { GROUP_JOIN, CRASH } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, ({ payload }) => {
      for (const partition of payload.memberAssignment[options.topic] ?? []) {
        const offset = this.#positions.get(partition);
        if (offset !== undefined) this.#consumer.seek({ topic: options.topic, partition, offset: String(offset) });
      }
    });
    this.#consumer.on(CRASH, ({ payload }) => {
      if (!payload.restart && !this.#stopped) options.lost(payload.error);
    });
  }

  /** Starts reading; resolves without waiting for the group to form (the positions are fixed already). */
  async start(): Promise<void> {
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topic: this.#options.topic, fromBeginning: true });
    await this.#consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async (payload) => this.#batch(payload) });
  }

  /** Nothing more reaches onRecord; leaves the group. Idempotent. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping ??= this.#consumer.disconnect().catch(() => undefined);
    return this.#stopping;
  }

  async #batch({ batch, resolveOffset }: EachBatchPayload): Promise<void> {
    const from = this.#positions.get(batch.partition) ?? 0;
    for (const message of batch.messages) {
      if (this.#stopped) return;
      const offset = Number(message.offset);
      if (offset < from) continue;
      this.#positions.set(batch.partition, offset + 1);
      try {
        this.#options.onRecord(message);
      } catch {
        // The listener owns its failures; the topic goes on.
      }
    }
    this.#positions.set(batch.partition, Math.max(this.#positions.get(batch.partition) ?? 0, Number(batch.lastOffset()) + 1));
    resolveOffset(batch.lastOffset());
  }
}
