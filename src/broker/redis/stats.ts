/**
 * A queue's figures from Redis, read without creating anything: the stream's length (XLEN),
 * its group's pending list (XINFO GROUPS), and the group's consumers seen lately (XINFO
 * CONSUMERS). Settling deletes an entry (XDEL), so the stream holds exactly the waiting and the
 * unsettled entries: waiting = XLEN - pending.
 */
import type { Redis } from 'ioredis';
import type { QueueStats } from '../types.js';
import { GROUP, streamKey } from './entries.js';

/** XINFO's replies: a flat list of names and values per group or consumer. */
function fields(reply: unknown): Map<string, unknown> {
  const list = reply as unknown[];
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < list.length; i += 2) map.set(String(list[i]), list[i + 1]);
  return map;
}

/**
 * `liveWithinMs`: a consumer whose name touched the group (a read, a claim, a heartbeat) within
 * this long counts as reading the queue now; the names of crashed consumers stay in the group
 * with an idle time that only grows.
 */
export async function readQueueStats(connection: Redis, queue: string, liveWithinMs: number): Promise<QueueStats> {
  const key = streamKey(queue);
  let groups: unknown[];
  try {
    groups = (await connection.call('XINFO', 'GROUPS', key)) as unknown[];
  } catch (error) {
    if (error instanceof Error && /no such key/i.test(error.message)) return { waiting: 0, unacked: 0, consumers: 0 };
    throw error;
  }
  const length = Number(await connection.call('XLEN', key));
  const group = groups.map(fields).find((info) => String(info.get('name')) === GROUP);
  if (!group) return { waiting: length, unacked: 0, consumers: 0 };
  const pending = Number(group.get('pending'));
  const consumers = ((await connection.call('XINFO', 'CONSUMERS', key, GROUP)) as unknown[]).map(fields);
  return {
    waiting: Math.max(0, length - pending),
    unacked: pending,
    consumers: consumers.filter((consumer) => Number(consumer.get('idle')) < liveWithinMs).length,
  };
}
