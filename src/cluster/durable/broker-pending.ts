// TEMPORARY: the broker layer's queueStats and onRefused are landing on branch broker-ext
// (items 4 and 5); these declarations let the durable cluster compile until they merge.
import type { Broker, ConsumeOptions } from '../../broker/types.js';
import type { ProtocolError } from '../../core/errors.js';

export interface QueueStats { waiting: number; unacked: number | undefined; consumers: number | undefined }
export interface RefusedMessage {
  readonly queue: string;
  readonly payload: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly redelivered: boolean;
  ack(): Promise<void>;
  nack(requeue?: boolean): Promise<void>;
}
export type FullConsumeOptions = ConsumeOptions & { onRefused?: (error: ProtocolError, message: RefusedMessage) => void | Promise<void> };
export function queueStats(broker: Broker, queue: string): Promise<QueueStats> {
  const withStats = broker as Broker & { queueStats?(queue: string): Promise<QueueStats> };
  if (!withStats.queueStats) return Promise.resolve({ waiting: 0, unacked: undefined, consumers: undefined });
  return withStats.queueStats(queue);
}
