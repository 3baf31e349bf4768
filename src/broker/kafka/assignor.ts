/**
 * The partition assignor of weft's queue groups. A Kafka group hands out partitions, not
 * messages: when a member comes or goes, every partition may move, and the new owner reads from
 * the last committed offset, so a message a live consumer still holds would be delivered again.
 * weft's members say, in the metadata they join with, which partitions they hold unsettled (or
 * settled but not yet committed) messages on: those stay with them. The rest are spread evenly,
 * each left with its previous owner where that keeps the spread even. A member that is
 * cancelling (`draining`) gets only what it holds.
 */
import type { Assigner, GroupMember, GroupMemberAssignment, PartitionAssigner } from 'kafkajs';
import type { KafkaJs } from './client.js';

export const ASSIGNOR_NAME = 'weft-pinned';
const VERSION = 1;

/** What a member tells the group leader when it joins, per topic (a queue's topic and its retry topic). */
export interface MemberClaim {
  /** Partitions it must keep: it holds messages of them not settled and committed yet. */
  pinned: Record<string, number[]>;
  /** Partitions it had before this rebalance. */
  owned: Record<string, number[]>;
  /** Cancelling: wants no new partitions. */
  draining: boolean;
}

/** A member's claim on one topic's partitions. */
export interface TopicClaim {
  pinned: number[];
  owned: number[];
  draining: boolean;
}

/**
 * Partition → member: pins first (the first claimant in member order, should two claim one),
 * then the previous owners up to an even share, then the least loaded member. Members sorted by
 * id: every leader computes the same assignment.
 */
export function assignPartitions(partitions: number[], members: { id: string; claim: TopicClaim }[]): Map<string, number[]> {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const result = new Map<string, number[]>(sorted.map((m) => [m.id, []]));
  const free = new Set(partitions);
  for (const { id, claim } of sorted) {
    for (const p of claim.pinned) {
      if (free.delete(p)) result.get(id)!.push(p);
    }
  }
  const takers = sorted.filter((m) => !m.claim.draining);
  if (takers.length === 0) takers.push(...sorted);
  if (takers.length === 0) return result;
  const share = Math.ceil(partitions.length / takers.length);
  for (const { id, claim } of takers) {
    for (const p of claim.owned) {
      if (result.get(id)!.length >= share) break;
      if (free.delete(p)) result.get(id)!.push(p);
    }
  }
  for (const p of [...free].sort((a, b) => a - b)) {
    let least = takers[0]!;
    for (const m of takers) if (result.get(m.id)!.length < result.get(least.id)!.length) least = m;
    result.get(least.id)!.push(p);
  }
  for (const assigned of result.values()) assigned.sort((a, b) => a - b);
  return result;
}

/**
 * The claim on `topic` carried in a member's join metadata; an unreadable one claims nothing.
 * A member of an earlier weft claims a plain list (it read only the queue's topic, so the list
 * can only be that topic's: it is not subscribed to the retry topic).
 */
export function decodeClaim(userData: Buffer | null | undefined, topic: string): TopicClaim {
  try {
    const value = JSON.parse(userData?.toString('utf8') || '{}') as { pinned?: unknown; owned?: unknown; draining?: unknown };
    const numbers = (list: unknown): number[] => {
      const forTopic = Array.isArray(list) ? list : typeof list === 'object' && list !== null ? (list as Record<string, unknown>)[topic] : undefined;
      return Array.isArray(forTopic) ? forTopic.filter((n): n is number => Number.isInteger(n)) : [];
    };
    return { pinned: numbers(value.pinned), owned: numbers(value.owned), draining: value.draining === true };
  } catch {
    return { pinned: [], owned: [], draining: false };
  }
}

/** The assigner a weft queue consumer joins with; `claim()` is read at each join. */
export function pinnedAssigner(kafkajs: KafkaJs, claim: () => MemberClaim): PartitionAssigner {
  const { MemberMetadata, MemberAssignment } = kafkajs.AssignerProtocol;
  return ({ cluster }): Assigner => ({
    name: ASSIGNOR_NAME,
    version: VERSION,
    async assign({ members, topics }: { members: GroupMember[]; topics: string[] }): Promise<GroupMemberAssignment[]> {
      const perMember = new Map<string, Record<string, number[]>>(members.map((m) => [m.memberId, {}]));
      for (const topic of topics) {
        const partitions = cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId);
        const subscribed = members.filter((m) => (MemberMetadata.decode(m.memberMetadata)?.topics ?? []).includes(topic));
        const claims = subscribed.map((m) => ({ id: m.memberId, claim: decodeClaim(MemberMetadata.decode(m.memberMetadata)?.userData, topic) }));
        for (const [id, assigned] of assignPartitions(partitions, claims)) perMember.get(id)![topic] = assigned;
      }
      return members.map((m) => ({
        memberId: m.memberId,
        memberAssignment: MemberAssignment.encode({ version: VERSION, assignment: perMember.get(m.memberId)!, userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }: { topics: string[] }) {
      return {
        name: ASSIGNOR_NAME,
        metadata: MemberMetadata.encode({ version: VERSION, topics, userData: Buffer.from(JSON.stringify(claim()), 'utf8') }),
      };
    },
  });
}
