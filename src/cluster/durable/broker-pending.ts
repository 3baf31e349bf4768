// TEMPORARY: the broker layer's onRefused is landing on branch broker-ext (item 5); these
// declarations let the durable cluster compile until it merges.
import type { ConsumeOptions } from '../../broker/types.js';
import type { ProtocolError } from '../../core/errors.js';

export interface RefusedMessage {
  readonly queue: string;
  readonly payload: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly redelivered: boolean;
  ack(): Promise<void>;
  nack(requeue?: boolean): Promise<void>;
}
export type FullConsumeOptions = ConsumeOptions & { onRefused?: (error: ProtocolError, message: RefusedMessage) => void | Promise<void> };
