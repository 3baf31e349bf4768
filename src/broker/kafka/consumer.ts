/**
 * One weft consumer of a queue on Kafka: a member of the queue's consumer group (a kafkajs
 * consumer of its own).
 *
 * Data flow: kafkajs fetches batches of the partitions the group gave this member, of the queue's
 * topic and of its retry topic (where requeued copies go) → each record
 * is taken into its PartitionState (waiting; fetching pauses while too many wait) → the pump
 * marks the next waiting records, at most `prefetch` marked or unsettled at once → one commit
 * records their delivered end on the server (the commit's metadata) → they are handed to
 * `onDelivery` → ack/nack settles a record (nack first publishes a requeued copy or a dead
 * letter) → the committed offset moves over the contiguous run of settled records (commits are
 * serialized: one in flight per member, each carrying every partition's news).
 *
 * Rebalances: the member's join metadata pins the partitions it holds records of (assignor.ts),
 * so a live consumer keeps what it holds. A partition it is given anew starts with the committed
 * offset and delivered end read from the server; a record below that delivered end was handed
 * out before (`redelivered`). A member that dies stops heartbeating: after the session timeout
 * (= redeliverAfter) the group rebalances and its uncommitted records are read again elsewhere.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { ConnectionClosedError } from '../../core/errors.js';
import { CONTENT_TYPE, type Delivery } from '../transport.js';
import { pinnedAssigner, type MemberClaim } from './assignor.js';
import { FETCH_WAIT_MS, RETRY, isConnectionError, messageOf, type KafkaJs, type KafkaSettings } from './client.js';
import { contentTypeOf, decodeHeaders } from './headers.js';
import { DELIVERED, MARKING, PartitionState, partitionKey, SETTLED, type Entry } from './partition.js';
import { markMetadata, parseMark } from './topics.js';

/** How long a member waits for the others to rejoin a rebalance (Kafka's rebalance timeout). Members rejoin at once: nothing blocks them. */
const REBALANCE_TIMEOUT_MS = 60_000;
/** After a failed commit (not a rebalance: that retries on the next join), try again this much later. */
const COMMIT_RETRY_MS = 500;
/** Closing: the last commit and leaving the group get this long before the member just goes. */
const CLOSE_GRACE_MS = 5000;
/**
 * kafkajs gives up on a group-protocol error it deems final (librdkafka's mock answers a
 * follower's late SyncGroup with INVALID_REQUEST; a real broker can fence a member): the member
 * joins again as a new kafkajs consumer, this many times in a row before the transport is lost.
 */
const MAX_REJOINS = 5;
const REJOIN_DELAY_MS = 200;

export interface ConsumerContext {
  kafkajs: KafkaJs;
  kafka: Kafka;
  admin: Admin;
  settings: KafkaSettings;
  queue: string;
  /** The queue's topic, and its retry topic: the group reads both. */
  topic: string;
  retryTopic: string;
  groupId: string;
  prefetch: number;
  onDelivery: (delivery: Delivery) => void;
  /** Publishes a copy of `message` to the queue's retry topic, as attempt `attempt`. */
  requeue(message: KafkaMessage, attempt: number): Promise<void>;
  /** Publishes a copy of `message` to the queue's dead-letter topic, saying why. */
  deadLetter(message: KafkaMessage, reason: string): Promise<void>;
  /** Throws once the transport is closed or lost. */
  ensureOpen(): void;
  /** Whether the cluster still answers (after kafkajs gave up on a connection). */
  reachable(): Promise<boolean>;
  /** The cluster cannot be reached (kafkajs gave up): the transport is lost. */
  lost(error: Error): void;
  /** The member left the group (cancelled and drained, or closed): the transport forgets it. */
  left(): void;
}

interface CommitWaiter {
  state: PartitionState;
  offset: number;
  resolve(): void;
  reject(error: Error): void;
}

export class KafkaQueueConsumer {
  readonly #context: ConsumerContext;
  #consumer: Consumer;
  /** Rejoins since the last successful join (see MAX_REJOINS). */
  #rejoins = 0;
  /** By partitionKey(topic, partition), over the queue's topic and its retry topic. */
  readonly #states = new Map<string, PartitionState>();
  /** Records handed out and not settled (orphans of a lost partition too: they count until settled). */
  #unsettled = 0;
  /** Records being marked: handed out once the commit recording them is taken. */
  #marking = 0;
  #rebalancing = false;
  #cancelled = false;
  #closed = false;
  #paused = false;
  /** The commit loop running now. */
  #committing: Promise<void> | undefined;
  #again = false;
  #commitTimer: NodeJS.Timeout | undefined;
  readonly #waiters = new Set<CommitWaiter>();
  #leaving: Promise<void> | undefined;
  #started = false;
  /** Woken by the next join: a final commit that failed during a rebalance waits for it. */
  readonly #joinWaiters = new Set<() => void>();
  #startWaiter: { resolve(): void; reject(error: Error): void } | undefined;

  constructor(context: ConsumerContext) {
    this.#context = context;
    this.#consumer = this.#newConsumer();
  }

  #newConsumer(): Consumer {
    const context = this.#context;
    const { kafkajs, kafka, settings, groupId } = context;
    const consumer = kafka.consumer({
      groupId,
      partitionAssigners: [pinnedAssigner(kafkajs, () => this.#claim())],
      sessionTimeout: settings.sessionTimeout,
      heartbeatInterval: settings.heartbeatInterval,
      rebalanceTimeout: REBALANCE_TIMEOUT_MS,
      maxWaitTimeInMs: FETCH_WAIT_MS,
      // After a connection error kafkajs gave up on, the member starts again if the cluster
      // still answers; if not, no restart: the transport is lost.
      retry: { ...RETRY, restartOnFailure: async (error) => !isConnectionError(error) || context.reachable() },
    });
    // Events of a consumer this member replaced (rejoin) are stale: only the current one counts.
    const current = () => this.#consumer === consumer;
    const { GROUP_JOIN, REBALANCING, CRASH } = consumer.events;
    consumer.on(GROUP_JOIN, ({ payload }) => current() && this.#joined(payload.memberAssignment));
    consumer.on(REBALANCING, () => void (current() && (this.#rebalancing = true)));
    consumer.on(CRASH, ({ payload }) => current() && this.#crashed(payload.error, payload.restart));
    return consumer;
  }

  /** Connects the current kafkajs consumer, subscribes and runs it (the group join follows). */
  async #run(): Promise<void> {
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: this.#topics(), fromBeginning: true });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => this.#batch(payload),
    });
  }

  /** Resolves once the member has joined the group and has its partitions. */
  async start(): Promise<void> {
    const joined = new Promise<void>((resolve, reject) => (this.#startWaiter = { resolve, reject }));
    try {
      await this.#run();
      await joined;
    } catch (error) {
      this.#closed = true;
      await this.#consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /** Hands out nothing more; leaves the group once every record handed out is settled and committed. */
  async cancel(): Promise<void> {
    if (this.#cancelled || this.#closed) return;
    this.#cancelled = true;
    for (const state of this.#states.values()) this.#marking -= state.dropUndelivered();
    this.#pause();
    await this.#leaveIfDrained();
  }

  /** The transport closes: settled records are committed (briefly), unsettled ones go to the next owner. */
  async close(): Promise<void> {
    if (this.#closed) return this.#leaving;
    this.#cancelled = true;
    for (const state of this.#states.values()) this.#marking -= state.dropUndelivered();
    this.#leaving ??= this.#leave(true);
    this.#closed = true;
    if (!this.#started) this.#startWaiter?.reject(new ConnectionClosedError(`the Kafka transport closed before consuming ${this.#context.queue} began`));
    return this.#leaving;
  }

  /** The transport is lost: stop at once, the server is not there to tell. */
  abandon(): void {
    this.#closed = true;
    clearTimeout(this.#commitTimer);
    if (!this.#started) this.#startWaiter?.reject(new ConnectionClosedError(`the Kafka transport was lost before consuming ${this.#context.queue} began`));
    this.#rejectWaiters(new ConnectionClosedError(`the Kafka transport was lost before the commit of an ack on ${this.#context.queue}`));
    void this.#consumer.disconnect().catch(() => undefined);
  }

  #topics(): string[] {
    return [this.#context.topic, this.#context.retryTopic];
  }

  #claim(): MemberClaim {
    const pinned: Record<string, number[]> = {};
    const owned: Record<string, number[]> = {};
    for (const state of this.#states.values()) {
      (owned[state.topic] ??= []).push(state.partition);
      if (state.pinned()) (pinned[state.topic] ??= []).push(state.partition);
    }
    return { pinned, owned, draining: this.#cancelled };
  }

  async #batch({ batch, resolveOffset }: EachBatchPayload): Promise<void> {
    const state = this.#states.get(partitionKey(batch.topic, batch.partition));
    if (!state || this.#cancelled) return;
    for (const message of batch.messages) state.take(message);
    state.skipTo(Number(batch.lastOffset()) + 1);
    resolveOffset(batch.lastOffset());
    this.#pump();
    if (!this.#paused && this.#waitingCount() > this.#bufferLimit()) this.#pause();
  }

  #bufferLimit(): number {
    return Math.max(1000, 2 * this.#context.prefetch);
  }

  #waitingCount(): number {
    let count = 0;
    for (const state of this.#states.values()) count += state.waitingCount;
    return count;
  }

  #pause(): void {
    this.#paused = true;
    try {
      this.#consumer.pause(this.#topics().map((topic) => ({ topic })));
    } catch {
      // Not running yet (or any more): nothing is fetched anyway.
    }
  }

  /** Marks the next waiting records, round robin over the partitions, within prefetch. */
  #pump(): void {
    if (this.#cancelled || this.#closed || this.#rebalancing) return;
    let budget = this.#context.prefetch - this.#unsettled - this.#marking;
    let marked = false;
    while (budget > 0) {
      let progress = false;
      for (const state of this.#states.values()) {
        if (budget === 0) break;
        if (!state.loaded || !state.markNext()) continue;
        this.#marking++;
        budget--;
        progress = marked = true;
      }
      if (!progress) break;
    }
    // Records below a delivered end the server already has (a previous owner's) need no new mark.
    if (marked) for (const state of this.#states.values()) this.#handOut(state);
    if (this.#paused && this.#waitingCount() < this.#bufferLimit() / 2) {
      this.#paused = false;
      this.#consumer.resume(this.#topics().map((topic) => ({ topic })));
    }
    if (marked) this.#flush();
  }

  /** Commits every partition's news, one commit in flight at a time, until nothing is new. */
  #flush(): void {
    if (this.#closed) return;
    if (this.#committing) {
      this.#again = true; // the running loop may have looked already: it goes round once more
      return;
    }
    this.#committing = this.#commitLoop().finally(() => {
      this.#committing = undefined;
      if (this.#again) this.#flush();
    });
  }

  async #commitLoop(): Promise<void> {
    while (!this.#rebalancing) {
      this.#again = false;
      const news = [...this.#states.values()].filter((state) => state.dirty()).map((state) => {
        const offset = state.commitPoint();
        const mark = Math.max(state.wantMark, state.inherited, offset);
        return { state, offset, mark };
      });
      if (news.length === 0) return;
      try {
        await this.#consumer.commitOffsets(news.map(({ state, offset, mark }) => ({
          topic: state.topic, partition: state.partition, offset: String(offset), metadata: markMetadata(mark),
        })));
      } catch (error) {
        if (this.#closed) return;
        // Most likely a rebalance: the next join flushes again; else try later.
        clearTimeout(this.#commitTimer);
        this.#commitTimer = setTimeout(() => this.#flush(), COMMIT_RETRY_MS);
        return;
      }
      for (const { state, offset, mark } of news) {
        if (this.#states.get(state.key) !== state) continue; // the partition moved meanwhile
        state.confirm(offset, mark);
        this.#handOut(state);
      }
      this.#resolveWaiters();
    }
  }

  /** Hands out the records whose marking the server has taken. */
  #handOut(state: PartitionState): void {
    for (const entry of state.marked()) {
      entry.status = DELIVERED;
      this.#marking--;
      this.#unsettled++;
      try {
        this.#context.onDelivery(this.#delivery(state, entry));
      } catch {
        // The callback owns its failures; the record stays held until settled or closed.
      }
    }
  }

  #delivery(state: PartitionState, entry: Entry): Delivery {
    const { properties, headers, attempt } = decodeHeaders(entry.message.headers);
    const value = entry.message.value;
    return {
      payload: value ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(0),
      headers,
      ...properties,
      redelivered: attempt > 1 || entry.offset < state.inherited,
      ack: () => this.#settle(state, entry, attempt, 'ack'),
      nack: (requeue) => this.#settle(state, entry, attempt, requeue ? 'requeue' : 'reject'),
    };
  }

  async #settle(state: PartitionState, entry: Entry, attempt: number, how: 'ack' | 'requeue' | 'reject'): Promise<void> {
    if (entry.status === SETTLED || entry.settling) return;
    this.#context.ensureOpen();
    entry.settling = true;
    try {
      if (how === 'requeue' && attempt < this.#context.settings.maxAttempts) await this.#context.requeue(entry.message, attempt + 1);
      else if (how !== 'ack') await this.#context.deadLetter(entry.message, how === 'reject' ? rejectReason(entry.message) : 'max-attempts');
    } catch (error) {
      entry.settling = false; // still held: it may be settled again
      throw error;
    }
    entry.status = SETTLED;
    this.#unsettled--;
    const owned = this.#states.get(state.key) === state;
    // Durable once the committed offset passes it: now if every earlier record is settled,
    // else when the last of them is (an ack does not wait on other messages' handlers).
    const committed = owned && state.commitPoint() > entry.offset ? this.#commitOf(state, entry.offset) : undefined;
    if (owned) this.#flush();
    this.#pump();
    void this.#leaveIfDrained();
    await committed;
  }

  #commitOf(state: PartitionState, offset: number): Promise<void> {
    return new Promise((resolve, reject) => this.#waiters.add({ state, offset, resolve, reject }));
  }

  #resolveWaiters(): void {
    for (const waiter of this.#waiters) {
      const moved = this.#states.get(waiter.state.key) !== waiter.state;
      if (moved || waiter.state.committed > waiter.offset) {
        // A partition that moved: the ack could not be committed and the record is read
        // again by the new owner (at least once); nothing the caller can do about it.
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  #rejectWaiters(error: Error): void {
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#waiters.clear();
  }

  /** The group's new assignment: keeps what stayed, forgets what moved, reads what is new. */
  #joined(assignment: Record<string, number[] | undefined>): void {
    this.#rebalancing = false;
    this.#rejoins = 0;
    const assigned = this.#topics().flatMap((topic) => (assignment[topic] ?? []).map((partition) => ({ topic, partition })));
    const kept = new Set(assigned.map(({ topic, partition }) => partitionKey(topic, partition)));
    for (const [key, state] of this.#states) {
      if (kept.has(key)) continue;
      this.#states.delete(key);
      for (const entry of state.entries()) if (entry.status === MARKING) this.#marking--;
    }
    const fresh: PartitionState[] = [];
    for (const { topic, partition } of assigned) {
      const state = this.#states.get(partitionKey(topic, partition));
      if (!state) {
        const created = new PartitionState(topic, partition);
        this.#states.set(created.key, created);
        fresh.push(created);
      } else if (state.next !== undefined) {
        // kafkajs would fetch again from the committed offset: go on after what was taken.
        this.#consumer.seek({ topic, partition, offset: String(state.next) });
      }
    }
    if (this.#paused || this.#cancelled) this.#pause();
    this.#resolveWaiters();
    if (fresh.length > 0) void this.#load(fresh);
    if (!this.#started) {
      this.#started = true;
      this.#startWaiter?.resolve();
    }
    this.#flush();
    this.#pump();
    for (const wake of [...this.#joinWaiters]) wake();
    this.#joinWaiters.clear();
  }

  /** Reads new partitions' committed offsets and delivered ends; then their records may be handed out. */
  async #load(fresh: PartitionState[]): Promise<void> {
    const { admin, groupId } = this.#context;
    try {
      const offsets = await admin.fetchOffsets({ groupId, topics: [...new Set(fresh.map((state) => state.topic))] });
      for (const state of fresh) {
        const entry = offsets.find((o) => o.topic === state.topic)?.partitions.find((p) => p.partition === state.partition);
        const committed = entry ? Number(entry.offset) : -1;
        state.committed = committed >= 0 ? committed : -1;
        state.inherited = parseMark(entry?.metadata);
        state.mark = state.wantMark = state.inherited;
        state.loaded = true;
      }
      this.#pump();
    } catch (error) {
      if (this.#closed) return;
      if (isConnectionError(error) && !(await this.#context.reachable())) return this.#context.lost(error as Error);
      setTimeout(() => void this.#load(fresh.filter((state) => this.#states.get(state.key) === state)), COMMIT_RETRY_MS).unref();
    }
  }

  #crashed(error: Error, restart: boolean): void {
    if (restart || this.#closed) return; // kafkajs joins again by itself
    if (this.#rejoins < MAX_REJOINS && !isConnectionError(error)) {
      this.#rejoins++;
      void this.#rejoin(error);
      return;
    }
    this.#giveUp(error);
  }

  #giveUp(error: Error): void {
    if (!this.#started) {
      const message = `cannot consume ${this.#context.queue} on Kafka: ${messageOf(error)}`;
      this.#startWaiter?.reject(isConnectionError(error) ? new ConnectionClosedError(message, { cause: error }) : new Error(message, { cause: error }));
      return;
    }
    this.#context.lost(error);
  }

  /** A fresh kafkajs consumer joins the group in place of the crashed one; held records stay pinned. */
  async #rejoin(cause: Error): Promise<void> {
    this.#rebalancing = true;
    await new Promise((resolve) => setTimeout(resolve, REJOIN_DELAY_MS));
    if (this.#closed) return;
    if (!(await this.#context.reachable())) return this.#giveUp(cause);
    if (this.#closed) return;
    this.#consumer = this.#newConsumer();
    try {
      await this.#run();
    } catch (error) {
      if (!this.#closed) this.#crashed(error as Error, false);
    }
  }

  async #leaveIfDrained(): Promise<void> {
    if (!this.#cancelled || this.#closed || this.#unsettled > 0 || this.#leaving) return;
    this.#leaving = this.#leave(false);
    this.#closed = true;
    await this.#leaving;
  }

  /** Commits what is settled (bounded by CLOSE_GRACE_MS), then leaves the group. */
  async #leave(closing: boolean): Promise<void> {
    clearTimeout(this.#commitTimer);
    const deadline = Date.now() + CLOSE_GRACE_MS;
    const grace = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref());
    await Promise.race([this.#finalCommit(deadline), grace]);
    // Every ack waiting on a commit is answered: committed, or not and its record comes again.
    this.#resolveWaiters();
    this.#rejectWaiters(new ConnectionClosedError(closing
      ? `the Kafka transport closed before the commit of an ack on ${this.#context.queue}: the message will be delivered again`
      : `the consumer of ${this.#context.queue} left its group before the commit of an ack: the message will be delivered again`));
    await Promise.race([this.#consumer.disconnect().catch(() => undefined), grace]);
    this.#context.left();
  }

  /**
   * Commits what is settled. A commit made while the group rebalances fails (the member's
   * generation is over); the member rejoins by itself, keeping the partitions it has settled
   * and uncommitted records of (pinned), and the commit is made again after that join, until
   * `deadline`. Leaving without it would hand acked records to the next owner.
   */
  async #finalCommit(deadline: number): Promise<void> {
    for (;;) {
      while (this.#committing) await this.#committing;
      this.#rebalancing = false;
      const last = this.#commitLoop();
      this.#committing = last;
      try {
        await last;
      } catch {
        // Not committed: tried again after the next join, or the next owner reads those records again.
      } finally {
        this.#committing = undefined;
      }
      const news = [...this.#states.values()].some((state) => state.dirty());
      if (!news || Date.now() >= deadline || !(await this.#nextJoin(deadline - Date.now()))) return;
    }
  }

  /** Resolves true once the member has joined the group again, false after `timeoutMs`. */
  #nextJoin(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#joinWaiters.delete(wake);
        resolve(false);
      }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#joinWaiters.add(wake);
    });
  }
}

/**
 * Why a record nacked without requeue is dead: `rejected`, or for a record not marked with
 * weft's content type (another program wrote it; weft's client refuses it unread)
 * `not-weft (content type: ...)`, so that whoever reads the dead-letter topic sees it was never handled.
 */
function rejectReason(message: KafkaMessage): string {
  const contentType = contentTypeOf(message.headers);
  return contentType === CONTENT_TYPE ? 'rejected' : `not-weft (content type: ${contentType ?? 'none'})`;
}
