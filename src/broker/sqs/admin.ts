/**
 * Deleting weft queues from SQS, for the benchmark and the tests (the Broker API has no
 * delete): each queue and its dead-letter queue `<queue>.dlq`. Inboxes and subscriptions are
 * deleted by the transport that made them.
 */
import { SqsApi, loadSqsSdk } from './api.js';
import { deadLetterQueueOf, sqsQueueName } from './names.js';
import { parseSqsUrl } from './url.js';

export async function removeSqsQueues(url: URL, names: string[]): Promise<void> {
  const settings = parseSqsUrl(url);
  const api = new SqsApi(await loadSqsSdk(), settings, { connectTimeout: 10_000, onTrouble: () => undefined });
  try {
    const all = names.flatMap((name) => [name, deadLetterQueueOf(name)]);
    await Promise.all(all.map(async (name) => {
      const queueUrl = await api.queueUrl(sqsQueueName(settings.prefix, name));
      if (queueUrl !== undefined) await api.deleteQueue(queueUrl);
    }));
  } finally {
    api.destroy();
  }
}
