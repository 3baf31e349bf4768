/**
 * The SQS calls weft makes, through the AWS SDK (`@aws-sdk/client-sqs`, an optional peer
 * dependency loaded only for sqs:// URLs), and the health of the link: SQS is HTTP, so there is
 * no connection to lose, only calls that fail. Every call that gets no answer from the server
 * (refused, reset, timed out, a 5xx) reports how long the trouble has lasted since the last
 * call that got one; the transport gives up after connectTimeout of it.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type * as Sdk from '@aws-sdk/client-sqs';
import { missingOr } from '../../peers/load.js';
import type { IncomingMessage, OutgoingMessage } from './attributes.js';
import type { SqsSettings } from './url.js';

export type SqsSdk = typeof Sdk;

/** ReceiveMessage's longest long poll (SQS's maximum): fewer empty receives, each billed on AWS. */
export const WAIT_SECONDS = 20;
/** Sockets per transport: every consumer keeps up to 10 long polls open, every inbox and subscription one. */
const MAX_SOCKETS = 256;

/** Loads the SDK, or says how to install it. */
export async function loadSqsSdk(): Promise<SqsSdk> {
  try {
    return await import('@aws-sdk/client-sqs');
  } catch (error) {
    throw missingOr(error, '@aws-sdk/client-sqs', 'sqs:// broker URLs');
  }
}

/** SQS answered that the queue is not there (deleted, or never made). */
export function isMissingQueue(error: unknown): boolean {
  const { name, Code } = error as { name?: string; Code?: string };
  return [name, Code].some((code) => code === 'QueueDoesNotExist' || code === 'AWS.SimpleQueueService.NonExistentQueue');
}

/** The server answered (any 4xx): the link works, whatever the answer says. */
function answered(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return typeof status === 'number' && status < 500;
}

function aborted(error: unknown): boolean {
  return (error as { name?: string }).name === 'AbortError';
}

type Outcomes = (Error | undefined)[];

export interface ApiOptions {
  connectTimeout: number;
  /** A call got no answer; `since`: when the calls stopped getting answers. */
  onTrouble(error: Error, since: number): void;
}

export class SqsApi {
  readonly #sdk: SqsSdk;
  readonly #client: Sdk.SQSClient;
  readonly #onTrouble: ApiOptions['onTrouble'];
  #troubleSince: number | undefined;

  constructor(sdk: SqsSdk, settings: SqsSettings, options: ApiOptions) {
    this.#sdk = sdk;
    this.#onTrouble = options.onTrouble;
    const agent = { keepAlive: true, maxSockets: MAX_SOCKETS };
    this.#client = new sdk.SQSClient({
      region: settings.region,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      maxAttempts: 3,
      requestHandler: {
        httpAgent: new HttpAgent(agent),
        httpsAgent: new HttpsAgent(agent),
        connectionTimeout: options.connectTimeout,
        // A long poll is silent for up to WAIT_SECONDS.
        requestTimeout: (WAIT_SECONDS + 10) * 1000,
      },
    });
  }

  /** The queue's URL; undefined when it does not exist. */
  async queueUrl(name: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      return (await this.#call<Sdk.GetQueueUrlCommandOutput>(new this.#sdk.GetQueueUrlCommand({ QueueName: name }), signal)).QueueUrl;
    } catch (error) {
      if (isMissingQueue(error)) return undefined;
      throw error;
    }
  }

  /** Makes the queue (an existing one of that name is used as it is, whatever its attributes). */
  async createQueue(name: string, attributes: Record<string, string>, tags?: Record<string, string>): Promise<string> {
    try {
      const { QueueUrl } = await this.#call<Sdk.CreateQueueCommandOutput>(new this.#sdk.CreateQueueCommand({ QueueName: name, Attributes: attributes, ...(tags ? { tags } : {}) }));
      return QueueUrl!;
    } catch (error) {
      // Made already with other attributes (by hand, or by a client with another maxReceiveCount).
      const { name: code } = error as { name?: string };
      if (code !== 'QueueNameExists' && code !== 'QueueAlreadyExists') throw error;
      const url = await this.queueUrl(name);
      if (url === undefined) throw error;
      return url;
    }
  }

  async attributes(url: string, names: Sdk.QueueAttributeName[]): Promise<Partial<Record<string, string>>> {
    return (await this.#call<Sdk.GetQueueAttributesCommandOutput>(new this.#sdk.GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: names }))).Attributes ?? {};
  }

  /** Deletes the queue; one already gone is no error. */
  async deleteQueue(url: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.#call<Sdk.DeleteQueueCommandOutput>(new this.#sdk.DeleteQueueCommand({ QueueUrl: url }), signal);
    } catch (error) {
      if (!isMissingQueue(error)) throw error;
    }
  }

  /** The URLs of every queue whose name starts with `prefix`, page after page. */
  async listQueues(prefix: string): Promise<string[]> {
    const urls: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#call<Sdk.ListQueuesCommandOutput>(new this.#sdk.ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 1000, ...(token ? { NextToken: token } : {}) }));
      urls.push(...(page.QueueUrls ?? []));
      token = page.NextToken;
    } while (token);
    return urls;
  }

  /** A long poll: up to `max` (≤ 10) messages, invisible to others for `visibility` seconds. */
  async receive(url: string, max: number, visibility: number, signal?: AbortSignal, waitSeconds = WAIT_SECONDS): Promise<IncomingMessage[]> {
    const reply = await this.#call<Sdk.ReceiveMessageCommandOutput>(new this.#sdk.ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: max,
      WaitTimeSeconds: waitSeconds,
      VisibilityTimeout: visibility,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }), signal);
    return reply.Messages ?? [];
  }

  /** Sends up to 10 messages; a FIFO queue's get `group` (each sender's order) and a fresh deduplication id. */
  async sendBatch(url: string, messages: OutgoingMessage[], group?: string): Promise<Outcomes> {
    const reply = await this.#call<Sdk.SendMessageBatchCommandOutput>(new this.#sdk.SendMessageBatchCommand({
      QueueUrl: url,
      Entries: messages.map((message, i) => ({
        Id: String(i),
        MessageBody: message.body,
        MessageAttributes: message.attributes,
        ...(group === undefined ? {} : { MessageGroupId: group, MessageDeduplicationId: crypto.randomUUID() }),
      })),
    }));
    return outcomes(messages.length, reply.Failed, 'send the message');
  }

  async deleteBatch(url: string, handles: string[]): Promise<Outcomes> {
    const reply = await this.#call<Sdk.DeleteMessageBatchCommandOutput>(new this.#sdk.DeleteMessageBatchCommand({
      QueueUrl: url,
      Entries: handles.map((handle, i) => ({ Id: String(i), ReceiptHandle: handle })),
    }));
    return outcomes(handles.length, reply.Failed, 'delete the message');
  }

  async visibilityBatch(url: string, entries: { handle: string; seconds: number }[]): Promise<Outcomes> {
    const reply = await this.#call<Sdk.ChangeMessageVisibilityBatchCommandOutput>(new this.#sdk.ChangeMessageVisibilityBatchCommand({
      QueueUrl: url,
      Entries: entries.map((entry, i) => ({ Id: String(i), ReceiptHandle: entry.handle, VisibilityTimeout: entry.seconds })),
    }));
    return outcomes(entries.length, reply.Failed, 'change the message\'s visibility');
  }

  async tag(url: string, tags: Record<string, string>): Promise<void> {
    await this.#call<Sdk.TagQueueCommandOutput>(new this.#sdk.TagQueueCommand({ QueueUrl: url, Tags: tags }));
  }

  async tags(url: string): Promise<Record<string, string>> {
    return (await this.#call<Sdk.ListQueueTagsCommandOutput>(new this.#sdk.ListQueueTagsCommand({ QueueUrl: url }))).Tags ?? {};
  }

  /** Closes the client's sockets. */
  destroy(): void {
    this.#client.destroy();
  }

  async #call<Output>(command: { input: unknown }, signal?: AbortSignal): Promise<Output> {
    try {
      const output = await this.#client.send(command as never, signal ? { abortSignal: signal } : undefined) as Output;
      this.#troubleSince = undefined;
      return output;
    } catch (error) {
      if (answered(error)) this.#troubleSince = undefined;
      else if (!aborted(error) && !signal?.aborted) this.#onTrouble(error as Error, this.#troubleSince ??= Date.now());
      throw error;
    }
  }
}

/** Each entry's error from a batch's `Failed` list (ids are the entries' indexes). */
function outcomes(count: number, failed: Sdk.BatchResultErrorEntry[] | undefined, what: string): Outcomes {
  const result: Outcomes = new Array(count).fill(undefined);
  for (const entry of failed ?? []) {
    const index = Number(entry.Id);
    if (Number.isInteger(index) && index >= 0 && index < count) {
      result[index] = new Error(`SQS could not ${what}: ${entry.Code}${entry.Message ? `: ${entry.Message}` : ''}`);
    }
  }
  return result;
}
