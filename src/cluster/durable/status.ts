import { openBroker } from '../../broker/open.js';
import type { Broker, QueueStats } from '../../broker/types.js';
import { ASK_STATUS, CONTROL_TOPIC, STATUS, deadLetterQueue, type BrokerWorkerInfo } from './messages.js';

/**
 * What `weft status --broker` shows: the workers (each answers a status request on the control
 * topic with its figures; the topic is not durable, so only workers connected now answer) and
 * each queue's figures as the server counts them.
 */
export interface BrokerStatus {
  workers: BrokerWorkerInfo[];
  queues: Array<{ queue: string; waiting: number; running: number | undefined; dead: number; consumers: number | undefined }>;
}

/** How long workers are given to answer: they answer from their event loop, at once unless busy computing. */
export const DEFAULT_STATUS_WAIT_MS = 1000;

/** Broadcasts a status request and collects the answers that come within `wait` ms. */
export async function askWorkers(broker: Broker, wait = DEFAULT_STATUS_WAIT_MS): Promise<BrokerWorkerInfo[]> {
  const seen = new Map<string, BrokerWorkerInfo>();
  const inbox = await broker.openInbox((body) => {
    if (!Array.isArray(body) || body[0] !== STATUS || typeof body[1] !== 'object' || body[1] === null) return;
    const info = body[1] as BrokerWorkerInfo;
    seen.set(`${info.host}:${info.pid}:${info.name}`, info);
  }, { onError: () => {} });
  try {
    await broker.broadcast(CONTROL_TOPIC, [ASK_STATUS, inbox.address]);
    await new Promise((resolve) => setTimeout(resolve, wait));
  } finally {
    await inbox.close().catch(() => {});
  }
  return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export async function brokerStatus(url: string, options: { queues?: string[]; wait?: number } = {}): Promise<BrokerStatus> {
  const broker = await openBroker(url);
  try {
    const workers = await askWorkers(broker, options.wait);
    const names = options.queues ?? [...new Set(workers.flatMap((w) => w.queues))];
    if (names.length === 0) names.push('weft');
    const queues = await Promise.all(names.map(async (queue) => {
      const [live, dead]: [QueueStats, QueueStats] = await Promise.all([broker.queueStats(queue), broker.queueStats(deadLetterQueue(queue))]);
      return { queue, waiting: live.waiting, running: live.unacked, dead: dead.waiting, consumers: live.consumers };
    }));
    return { workers, queues };
  } finally {
    await broker.close();
  }
}
