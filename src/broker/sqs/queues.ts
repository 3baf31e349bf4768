/**
 * weft's queues on SQS: each weft queue's URL, looked up once per transport, the queue made on
 * first use. A queue is made with the longest retention SQS has (14 days: SQS deletes older
 * messages) and, unless the URL says maxReceiveCount=0, a redrive policy to its dead-letter
 * queue `<queue>.dlq` (an ordinary weft queue, made first, without one of its own). A queue
 * that exists already is used as it is, whatever its attributes.
 */
import type { QueueStats } from '../types.js';
import { isMissingQueue, type SqsApi } from './api.js';
import { deadLetterQueueOf, isDeadLetterQueue, sqsQueueName } from './names.js';

/** SQS's longest MessageRetentionPeriod, in seconds (14 days). */
const RETENTION_SECONDS = '1209600';

export class Queues {
  readonly #api: SqsApi;
  readonly #prefix: string;
  readonly #maxReceiveCount: number;
  /** weft queue name → its URL (made or found). */
  readonly #urls = new Map<string, Promise<string>>();

  constructor(api: SqsApi, prefix: string, maxReceiveCount: number) {
    this.#api = api;
    this.#prefix = prefix;
    this.#maxReceiveCount = maxReceiveCount;
  }

  get deadLettering(): boolean {
    return this.#maxReceiveCount > 0;
  }

  /** The queue's URL; the queue (and its dead-letter queue) made when missing. */
  ensure(queue: string): Promise<string> {
    let url = this.#urls.get(queue);
    if (!url) {
      url = this.#make(queue);
      this.#urls.set(queue, url);
      url.catch(() => this.#urls.delete(queue));
    }
    return url;
  }

  /** The queue's URL without making it; undefined when there is no such queue. */
  async find(queue: string): Promise<string | undefined> {
    const known = this.#urls.get(queue);
    if (known) return known;
    const url = await this.#api.queueUrl(sqsQueueName(this.#prefix, queue));
    if (url !== undefined) this.#urls.set(queue, Promise.resolve(url));
    return url;
  }

  /** The queue was deleted behind our back: look it up (or make it) again next time. */
  forget(queue: string): void {
    this.#urls.delete(queue);
  }

  /** waiting: ApproximateNumberOfMessages; unacked: …NotVisible; SQS does not count consumers. */
  async stats(queue: string): Promise<QueueStats> {
    const none: QueueStats = { waiting: 0, unacked: 0, consumers: undefined };
    const url = await this.find(queue);
    if (url === undefined) return none;
    try {
      const attributes = await this.#api.attributes(url, ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible']);
      return {
        waiting: Number(attributes.ApproximateNumberOfMessages ?? 0),
        unacked: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
        consumers: undefined,
      };
    } catch (error) {
      if (!isMissingQueue(error)) throw error;
      this.forget(queue);
      return none;
    }
  }

  async #make(queue: string): Promise<string> {
    const name = sqsQueueName(this.#prefix, queue);
    const existing = await this.#api.queueUrl(name);
    if (existing !== undefined) return existing;
    const attributes: Record<string, string> = { MessageRetentionPeriod: RETENTION_SECONDS };
    if (this.deadLettering && !isDeadLetterQueue(queue)) {
      const deadUrl = await this.ensure(deadLetterQueueOf(queue));
      const { QueueArn } = await this.#api.attributes(deadUrl, ['QueueArn']);
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: QueueArn, maxReceiveCount: String(this.#maxReceiveCount) });
    }
    return this.#api.createQueue(name, attributes);
  }
}
