/**
 * One partition of a queue as one weft consumer holds it: the records taken from it in offset
 * order, each waiting (fetched, not handed out), marking (its hand-out is being recorded on the
 * server), delivered (handed to the consumer, unsettled) or settled. In offset order the states
 * run settled/delivered, then marking, then waiting: records are handed out in order.
 *
 * The group's committed offset only moves over a contiguous run of settled records: it is the
 * offset of the first record not settled. The commit's metadata records the delivered end (the
 * offset after the last record handed out), so that the next owner knows which records were
 * handed out before (`redelivered`) and queueStats can tell held records from waiting ones.
 */
import type { KafkaMessage } from 'kafkajs';

export const WAITING = 0;
export const MARKING = 1;
export const DELIVERED = 2;
export const SETTLED = 3;

export interface Entry {
  readonly offset: number;
  readonly message: KafkaMessage;
  status: typeof WAITING | typeof MARKING | typeof DELIVERED | typeof SETTLED;
  /** A settle is under way (a requeue or dead letter is being published): a second one is ignored. */
  settling: boolean;
}

export class PartitionState {
  /** The queue's topic or its retry topic. */
  readonly topic: string;
  readonly partition: number;
  /** Taken records from `#head` on; those before it are settled and committed. */
  readonly #entries: Entry[] = [];
  #head = 0;
  /** The first entry that may still be waiting (entries before it are not). */
  #waiting = 0;
  /** The offset after the last record taken: where fetching goes on. */
  next: number | undefined;
  /** The group's committed offset as this member last committed or read it; -1: none. */
  committed = -1;
  /** The delivered end recorded on the server; -1: none. */
  mark = -1;
  /** The delivered end to record. */
  wantMark = -1;
  /** The delivered end a previous owner recorded: records below it were handed out before. */
  inherited = -1;
  /** The committed offset and its metadata were read from the server: records may be handed out. */
  loaded = false;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }

  /** Its key among a consumer's partitions (of both its topics). */
  get key(): string {
    return partitionKey(this.topic, this.partition);
  }

  /** Adds a fetched record; false for one taken already (fetched again after a rebalance). */
  take(message: KafkaMessage): boolean {
    const offset = Number(message.offset);
    if (this.next !== undefined && offset < this.next) return false;
    this.#entries.push({ offset, message, status: WAITING, settling: false });
    this.next = offset + 1;
    return true;
  }

  /** Past control records at the end of a batch: fetching goes on after them. */
  skipTo(next: number): void {
    if (this.next === undefined || next > this.next) this.next = next;
  }

  /** The next waiting record, now marking; undefined when none waits. */
  markNext(): Entry | undefined {
    while (this.#waiting < this.#entries.length && this.#entries[this.#waiting]!.status !== WAITING) this.#waiting++;
    const entry = this.#entries[this.#waiting];
    if (!entry) return undefined;
    entry.status = MARKING;
    this.#waiting++;
    this.wantMark = Math.max(this.wantMark, entry.offset + 1);
    return entry;
  }

  /** Marking records the server now knows as handed out, in order. */
  *marked(): Generator<Entry> {
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i]!;
      if (entry.status === WAITING) return;
      if (entry.status === MARKING && entry.offset < this.mark) yield entry;
    }
  }

  get waitingCount(): number {
    let count = 0;
    for (let i = Math.max(this.#head, this.#waiting); i < this.#entries.length; i++) if (this.#entries[i]!.status === WAITING) count++;
    return count;
  }

  /** Where the committed offset may go: the first record not settled, else past everything taken. */
  commitPoint(): number {
    for (let i = this.#head; i < this.#entries.length; i++) {
      if (this.#entries[i]!.status !== SETTLED) return this.#entries[i]!.offset;
    }
    return this.next ?? this.committed;
  }

  /** The server should hear of a new committed offset or delivered end. */
  dirty(): boolean {
    return this.loaded && (this.commitPoint() > this.committed || this.wantMark > this.mark);
  }

  /** Must stay with this member: it holds records of it that are handed out and not settled and committed. */
  pinned(): boolean {
    for (let i = this.#head; i < this.#entries.length; i++) if (this.#entries[i]!.status !== WAITING) return true;
    return this.wantMark > this.mark;
  }

  /** The server took a commit of `offset` with the delivered end `mark`. */
  confirm(offset: number, mark: number): void {
    this.committed = Math.max(this.committed, offset);
    this.mark = Math.max(this.mark, mark);
    while (this.#head < this.#entries.length && this.#entries[this.#head]!.offset < this.committed && this.#entries[this.#head]!.status === SETTLED) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries.splice(0, this.#head);
      this.#waiting = Math.max(0, this.#waiting - this.#head);
      this.#head = 0;
    }
  }

  /**
   * Forgets what was not handed out (cancelling): marking and waiting records are dropped and
   * fetching would start again at the first of them. Returns how many were marking.
   */
  dropUndelivered(): number {
    let first = this.#entries.length;
    for (let i = this.#head; i < this.#entries.length; i++) {
      const status = this.#entries[i]!.status;
      if (status === MARKING || status === WAITING) {
        first = i;
        break;
      }
    }
    if (first === this.#entries.length) return 0;
    const dropped = this.#entries.splice(first);
    this.next = dropped[0]!.offset;
    this.#waiting = Math.min(this.#waiting, this.#entries.length);
    return dropped.filter((entry) => entry.status === MARKING).length;
  }

  /** Every entry still held: for a rebalance that took the partition away. */
  entries(): Entry[] {
    return this.#entries.slice(this.#head);
  }
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}
