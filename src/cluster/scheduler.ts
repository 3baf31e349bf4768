import { CancelledError, TimeoutError, WorkerCrashedError } from '../core/errors.js';
import { taskNameOf, type Job } from '../core/job.js';
import { PriorityQueue } from '../core/job-queue.js';
import { functionSource } from '../pools/source.js';
import { UnknownTaskError } from './errors.js';
import { Lease, Member, type TaskDef, type WorkerLink } from './membership.js';
import { DONE_WIDTH, ERR, OK, PROGRESS, YIELD, type JoinMessage } from './protocol.js';
import { logger } from '../log.js';
import { TaskBoard } from './task-board.js';

/**
 * The cluster's scheduling state, independent of any transport: which worker holds which
 * job (leases), which jobs wait for a worker that can run them (parked), and what happens when
 * a worker goes away. The executor above it owns the queue, priorities, timeouts and retries
 * (ExecutorBase); this class only places the jobs the executor starts.
 *
 *   executor pump ─▶ dispatch(job) ─▶ pick a ready worker that has the task and room in its
 *        ▲                             window (least loaded) ─▶ Lease ─▶ link.run
 *        │                             none has room ─▶ parked until one has
 *        └── resolve/reject/requeue ◀── results (by lease id) ◀── worker
 *
 * Invariants:
 * - A job's `slot` is its Lease while a worker holds it, a Parked entry while it waits here.
 * - A lease lives in exactly one member's `leases` until its result arrives or it is revoked;
 *   a result for a lease not there is late (the lease was revoked) and is dropped.
 * - `capacity` = jobs held now (leases + parked) + the room of every ready worker, so jobs
 *   for a task no worker can take park without blocking the jobs behind them.
 */

/** What the scheduler needs from the executor that owns the jobs. */
export interface SchedulerHost {
  resolveAttempt(job: Job, attempt: number, value: unknown): void;
  rejectAttempt(job: Job, attempt: number, error: unknown): void;
  requeueAttempt(job: Job, attempt: number): void;
  pushValue(job: Job, attempt: number, value: unknown): void;
  capacityChanged(): void;
  emit(event: string, payload: unknown): void;
}

export interface SchedulerSettings {
  /** A worker silent this long loses its leases: its tasks run elsewhere. */
  leaseTimeout: number;
  /** How long a job may wait when connected workers exist but none offers its task. */
  unroutableTimeout: number;
  /** How many times one task may be moved off lost workers before it fails. */
  maxRedeliveries: number;
}

class Parked {
  readonly since = performance.now();
  constructor(readonly job: Job, readonly taskId: number) {}
}

export class Scheduler {
  readonly #host: SchedulerHost;
  readonly #settings: SchedulerSettings;
  readonly #members = new Map<number, Member>();
  #nextMemberId = 1;
  #nextLeaseId = 1;
  readonly #taskIds = new Map<(...args: any[]) => unknown, number>();
  readonly #defs: TaskDef[] = [];
  readonly #parked = new Map<number, PriorityQueue<Parked>>();
  #parkedCount = 0;
  readonly #unroutable = new Map<number, ReturnType<typeof setTimeout>>();
  readonly #losses = new WeakMap<Job, number>();
  #leaseCheck: ReturnType<typeof setInterval> | undefined;
  /** Results that arrived for revoked leases. */
  dropped = 0;
  /** Running and recent tasks, for STATUS {tasks: true}. */
  readonly tasks = new TaskBoard();
  /**
   * Slots of local workers still starting, until the first worker joins. They count as
   * capacity, as a pool's threads do while they start: jobs go to the running state and wait
   * here for the first worker.
   */
  reserved = 0;

  constructor(host: SchedulerHost, settings: SchedulerSettings) {
    this.#host = host;
    this.#settings = settings;
  }

  get members(): IterableIterator<Member> {
    return this.#members.values();
  }

  get capacity(): number {
    // Before the first worker joins, jobs park up to the reserved slots and no further.
    if (this.#members.size === 0) return Math.max(this.#parkedCount, this.reserved);
    let capacity = this.#parkedCount;
    for (const m of this.#members.values()) capacity += m.leases.size + m.room;
    return capacity;
  }

  /** Capacity of the ready workers that can run plain functions; for the map chunking. */
  get totalSlots(): number {
    let slots = 0;
    for (const m of this.#members.values()) if (m.schedulable) slots += m.capacity;
    return slots;
  }

  /** Whether some worker now connected accepts plain functions. */
  get acceptsFunctions(): boolean {
    for (const m of this.#members.values()) if (m.join.functions) return true;
    return false;
  }

  // ---- membership ---------------------------------------------------------------------------

  join(message: JoinMessage, link: WorkerLink): Member {
    const member = new Member(this.#nextMemberId++, message, link);
    this.#members.set(member.id, member);
    this.reserved = 0;
    this.#leaseCheck ??= setInterval(() => this.#checkLeases(), Math.max(10, this.#settings.leaseTimeout / 4)).unref();
    this.#host.emit('worker-joined', member.info());
    this.#reroute();
    this.#unpark(member);
    this.#host.capacityChanged();
    return member;
  }

  /** Any frame from the worker: it is alive. A worker presumed lost that speaks again is back. */
  heard(member: Member): void {
    member.lastHeard = Date.now();
    if (member.state !== 'unresponsive') return;
    member.state = member.draining ? 'draining' : 'ready';
    for (const leaseId of member.revoked.splice(0)) member.link.cancel(leaseId, new CancelledError('the lease was revoked while this worker was unresponsive'));
    this.#host.emit('worker-recovered', member.info());
    this.#unpark(member);
    this.#host.capacityChanged();
  }

  /** The worker finishes what it holds and takes nothing new. */
  drain(member: Member): void {
    member.draining = true;
    if (member.state === 'ready') member.state = 'draining';
    this.#host.emit('worker-draining', member.info());
    this.#reroute();
  }

  /** The worker is gone: its leases go back to the queue. */
  leave(member: Member, reason: string): void {
    if (!this.#members.delete(member.id)) return;
    const held = member.leases.size;
    this.#redeliverAll(member, reason);
    // A worker that held nothing (one that drained, or the cluster shutting down) left in order.
    if (held === 0) logger().info('worker left', { worker: member.join.name, reason });
    else logger().warn(`worker lost holding ${held} task(s); they run again elsewhere`, { worker: member.join.name, reason });
    this.#host.emit('worker-lost', { ...member.info(), reason });
    this.#reroute();
    if (this.#members.size === 0 && this.#leaseCheck) this.#leaseCheck = void clearInterval(this.#leaseCheck);
  }

  /** Jobs waiting here fail with `error` (the local workers it reserved room for never came). */
  failParked(error: Error): void {
    this.reserved = 0;
    for (const [taskId, queue] of [...this.#parked]) {
      this.#parked.delete(taskId);
      this.#failQueue(queue, error);
    }
  }

  close(): void {
    if (this.#leaseCheck) this.#leaseCheck = void clearInterval(this.#leaseCheck);
    for (const timer of this.#unroutable.values()) clearTimeout(timer);
    this.#unroutable.clear();
  }

  // ---- dispatch -----------------------------------------------------------------------------

  dispatch(job: Job): void {
    const taskId = this.#taskIdOf(job);
    const member = this.#pick(this.#defs[taskId]!);
    if (member) this.#lease(member, job, taskId);
    else this.#park(job, taskId);
  }

  /** A running job was cancelled or timed out. */
  abandon(job: Job, reason: unknown): void {
    const slot = job.slot;
    if (slot instanceof Parked) {
      // Like a pool's call prefetched into a starting worker, it runs once a worker comes, its
      // signal already aborted; with no worker able to take it, it ends here.
      const def = this.#defs[slot.taskId]!;
      if (this.#members.size === 0 ? this.reserved > 0 : this.#routable(def)) return;
      this.#parkedCount--;
      job.slot = undefined;
      this.#host.rejectAttempt(job, job.runningAttempt, reason);
    } else if (slot instanceof Lease) {
      // The worker times the attempt itself, so the task's signal aborts with a TimeoutError.
      if (reason instanceof TimeoutError && slot.timed) return;
      if (slot.member.state !== 'unresponsive') slot.member.link.cancel(slot.id, reason as Error);
    }
  }

  /** The lease's job could not be sent: it fails with `error` (a retry may send it again). */
  fail(lease: Lease, error: Error): void {
    if (!lease.member.leases.delete(lease.id)) return;
    lease.job.slot = undefined;
    this.#host.rejectAttempt(lease.job, lease.attempt, error);
  }

  /** Results from a worker: flat [op, leaseId, value] records. */
  settle(member: Member, records: unknown[]): void {
    let settled = 0;
    for (let i = 0; i + DONE_WIDTH <= records.length; i += DONE_WIDTH) {
      const op = records[i];
      const lease = member.leases.get(records[i + 1] as number);
      const value = records[i + 2];
      if (!lease) {
        if (op === OK || op === ERR) this.#drop(member, records[i + 1]);
        continue;
      }
      const job = lease.job;
      if (op === YIELD) this.#host.pushValue(job, lease.attempt, value);
      else if (op === PROGRESS) {
        lease.progress = value;
        if (job.runningAttempt === lease.attempt) job.progress(value);
      } else if (op === OK || op === ERR) {
        member.leases.delete(lease.id);
        job.slot = undefined;
        settled++;
        // Jobs parked earlier go before the executor's queue gets the room.
        if (this.#parkedCount > 0) this.#unpark(member);
        this.tasks.finished(lease, op === OK, value);
        if (op === OK) {
          // Tasks, not leases: a chunk of map's (or of a group's) calls counts each call.
          member.completed += job.kind === 'call' ? 1 : job.args.length;
          this.#host.resolveAttempt(job, lease.attempt, value);
        } else {
          member.failed++;
          this.#host.rejectAttempt(job, lease.attempt, value instanceof Error ? value : new Error(String(value)));
        }
      }
    }
    member.settled(settled, performance.now());
  }

  /** The job of future `id` if a worker holds it now (what the dashboard lists and revokes). */
  running(id: string): Job | undefined {
    for (const member of this.#members.values()) for (const lease of member.leases.values()) if (lease.job.id === id) return lease.job;
    return undefined;
  }

  // ---- internals ----------------------------------------------------------------------------

  #taskIdOf(job: Job): number {
    let id = this.#taskIds.get(job.fn);
    if (id !== undefined) return id;
    const task = job.task;
    const def: TaskDef = task
      ? { name: task.taskName, moduleUrl: task.moduleUrl, key: task.key, source: undefined }
      : { name: job.fn.name || 'anonymous function', moduleUrl: '', key: '', source: functionSource(job.fn) };
    id = this.#defs.push(def) - 1;
    this.#taskIds.set(job.fn, id);
    return id;
  }

  /** The ready worker with room that can run `def`, least loaded first (by share of its capacity). */
  #pick(def: TaskDef): Member | undefined {
    let best: Member | undefined;
    let bestLoad = Infinity;
    for (const m of this.#members.values()) {
      if (m.room === 0 || !m.canRun(def)) continue;
      const load = m.leases.size / m.capacity;
      if (load < bestLoad) {
        best = m;
        bestLoad = load;
      }
    }
    return best;
  }

  /** `since`: when the attempt started, for a job that waited parked. */
  #lease(member: Member, job: Job, taskId: number, since?: number): void {
    if (!member.known[taskId]) {
      member.link.define(taskId, this.#defs[taskId]!);
      member.known[taskId] = true;
    }
    const now = performance.now();
    const limit = job.options.timeout ?? 0;
    // The worker gets what is left of the attempt's time (at least 1 ms, so it still times out there).
    const timeout = limit > 0 && since !== undefined ? Math.max(1, Math.ceil(limit - (now - since))) : limit;
    const lease = new Lease(this.#nextLeaseId++, job, job.runningAttempt, member, timeout > 0);
    member.leases.set(lease.id, lease);
    member.leased(now);
    job.slot = lease;
    member.link.run(lease, taskId, timeout);
    if (job.aborted) {
      const reason = job.signal.reason as Error;
      if (!(reason instanceof TimeoutError && lease.timed)) member.link.cancel(lease.id, reason);
    }
  }

  #park(job: Job, taskId: number): void {
    const entry = new Parked(job, taskId);
    job.slot = entry;
    let queue = this.#parked.get(taskId);
    if (!queue) this.#parked.set(taskId, (queue = new PriorityQueue()));
    queue.push(entry, job.options.priority ?? 0);
    this.#parkedCount++;
    this.#watchRoute(taskId);
  }

  /** Gives `member`'s free room to parked jobs it can run. */
  #unpark(member: Member): void {
    for (const [taskId, queue] of this.#parked) {
      if (member.room === 0) return;
      if (!member.canRun(this.#defs[taskId]!)) continue;
      while (member.room > 0) {
        const entry = queue.shift();
        if (!entry) break;
        if (entry.job.slot !== entry) continue; // abandoned while parked
        this.#parkedCount--;
        this.#lease(member, entry.job, taskId, entry.since);
      }
      if (queue.size === 0) this.#parked.delete(taskId);
      this.#watchRoute(taskId);
    }
  }

  /**
   * Whether a connected worker offers the task, ready or not: one that is draining, or silent
   * past its lease (a busy machine), still offers it, so its jobs wait rather than fail as
   * unknown (they did, saying "no connected worker offers it (they offer" the very task).
   */
  #routable(def: TaskDef): boolean {
    for (const m of this.#members.values()) if (m.canRun(def)) return true;
    return false;
  }

  /**
   * With no worker connected, jobs wait for one. With workers connected but none offering the
   * task, they wait `unroutableTimeout` for one that does, then fail with UnknownTaskError.
   */
  #watchRoute(taskId: number): void {
    const timer = this.#unroutable.get(taskId);
    const waiting = this.#parked.has(taskId);
    const stuck = waiting && this.#members.size > 0 && !this.#routable(this.#defs[taskId]!);
    if (stuck && !timer) {
      this.#unroutable.set(taskId, setTimeout(() => this.#failUnroutable(taskId), this.#settings.unroutableTimeout));
    } else if (!stuck && timer) {
      clearTimeout(timer);
      this.#unroutable.delete(taskId);
    }
  }

  #reroute(): void {
    for (const taskId of [...this.#parked.keys(), ...this.#unroutable.keys()]) this.#watchRoute(taskId);
  }

  #failUnroutable(taskId: number): void {
    this.#unroutable.delete(taskId);
    const def = this.#defs[taskId]!;
    const queue = this.#parked.get(taskId);
    if (!queue || this.#members.size === 0 || this.#routable(def)) return;
    this.#parked.delete(taskId);
    const offered = new Set<string>();
    for (const m of this.#members.values()) for (const name of m.info().tasks) offered.add(name);
    const what = def.source !== undefined
      ? `plain function ${def.name}: no connected worker accepts plain functions (start one with --allow-functions)`
      : `task ${def.name}: no connected worker offers it (they offer ${[...offered].join(', ') || 'nothing'})`;
    this.#failQueue(queue, new UnknownTaskError(`cannot run ${what}`, def.name));
  }

  #failQueue(queue: PriorityQueue<Parked>, error: Error): void {
    for (const entry of queue.drain()) {
      if (entry.job.slot !== entry) continue; // abandoned while parked
      this.#parkedCount--;
      entry.job.slot = undefined;
      this.#host.rejectAttempt(entry.job, entry.job.runningAttempt, error);
    }
  }

  #checkLeases(): void {
    const now = Date.now();
    for (const m of this.#members.values()) {
      if (m.state === 'unresponsive' || now - m.lastHeard <= this.#settings.leaseTimeout) continue;
      m.state = 'unresponsive';
      m.revoked.push(...m.leases.keys());
      const reason = `its lease expired: nothing heard from it for ${now - m.lastHeard} ms (leaseTimeout ${this.#settings.leaseTimeout} ms)`;
      this.#redeliverAll(m, reason);
      logger().warn('worker lost; its tasks run again elsewhere', { worker: m.join.name, reason });
      this.#host.emit('worker-lost', { ...m.info(), reason });
      this.#reroute();
    }
  }

  #redeliverAll(member: Member, reason: string): void {
    const leases = [...member.leases.values()];
    member.leases.clear();
    for (const lease of leases) this.#redeliver(lease, reason);
  }

  /** The lease's worker is gone or presumed gone: the task runs again elsewhere. */
  #redeliver(lease: Lease, reason: string): void {
    const job = lease.job;
    job.slot = undefined;
    if (job.future.done()) return this.#host.requeueAttempt(job, lease.attempt); // cancelled: just ends
    const losses = (this.#losses.get(job) ?? 0) + 1;
    this.#losses.set(job, losses);
    const worker = lease.member;
    if (losses > this.#settings.maxRedeliveries) {
      const error = new WorkerCrashedError({
        workerId: worker.id,
        reason: `worker ${worker.join.name} was lost (${reason}); this task was moved off lost workers ${losses - 1} times already (maxRedeliveries ${this.#settings.maxRedeliveries})`,
      });
      return this.#host.rejectAttempt(job, lease.attempt, error);
    }
    this.#host.emit('task-redelivered', { id: job.id, task: taskNameOf(job), worker: worker.id, reason, redeliveries: losses });
    this.#host.requeueAttempt(job, lease.attempt);
  }

  #drop(member: Member, leaseId: unknown): void {
    this.dropped++;
    logger().info('dropped a late result: its lease was revoked and the task ran elsewhere', { worker: member.join.name, lease: String(leaseId) });
    this.#host.emit('result-dropped', { worker: member.id, lease: leaseId });
  }

}
