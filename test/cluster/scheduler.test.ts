import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ExecutorBase, UnknownTaskError, defineTasks } from '../../src/index.js';
import type { Job } from '../../src/core/job.js';
import type { Lease, Member, TaskDef, WorkerLink } from '../../src/cluster/membership.js';
import { OK, type JoinMessage } from '../../src/cluster/protocol.js';
import { Scheduler } from '../../src/cluster/scheduler.js';

/**
 * The scheduler without any transport: an executor over in-memory links whose "workers" are
 * this test, which answers leases by hand. This is also the shape the broker-backed mode
 * takes: the same Scheduler behind another WorkerLink.
 */
const work = defineTasks(import.meta.url, {
  x: (n: number) => n,
  y: (n: number) => n,
  z: (n: number) => n,
}, { namespace: 'mem' });

class MemoryLink implements WorkerLink {
  readonly runs: Lease[] = [];
  readonly cancels: number[] = [];
  define(_taskId: number, _def: TaskDef): void {}
  run(lease: Lease): void {
    this.runs.push(lease);
  }
  cancel(leaseId: number): void {
    this.cancels.push(leaseId);
  }
  close(): void {}
}

class MemoryCluster extends ExecutorBase {
  protected readonly kind = 'MemoryCluster';
  readonly events: [string, any][] = [];
  #waiters: [string, (payload: any) => void][] = [];
  /** The next `event` the scheduler emits. */
  next(event: string): Promise<any> {
    // The scheduler's lease timer does not keep a process alive (a real cluster's socket does).
    const hold = setInterval(() => {}, 1 << 30);
    return new Promise((resolve) => this.#waiters.push([event, resolve])).finally(() => clearInterval(hold));
  }
  readonly scheduler = new Scheduler({
    resolveAttempt: (job, attempt, value) => this.resolveAttempt(job, attempt, value),
    rejectAttempt: (job, attempt, error) => this.rejectAttempt(job, attempt, error),
    requeueAttempt: (job, attempt) => this.requeueAttempt(job, attempt),
    pushValue: (job, attempt, value) => this.pushValue(job, attempt, value),
    capacityChanged: () => this.capacityChanged(),
    emit: (event, payload) => {
      this.events.push([event, payload]);
      for (const waiter of this.#waiters.filter(([name]) => name === event)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter[1](payload);
      }
    },
  }, { leaseTimeout: 60, unroutableTimeout: 30, maxRedeliveries: 2 });
  protected get capacity(): number {
    return this.scheduler.capacity;
  }
  protected dispatch(job: Job): void {
    this.scheduler.dispatch(job);
  }
  protected override abandon(job: Job, reason: unknown): void {
    this.scheduler.abandon(job, reason);
  }
  protected override async close(): Promise<void> {
    this.scheduler.close();
  }
  join(tasks: string[], capacity = 1): { member: Member; link: MemoryLink } {
    const link = new MemoryLink();
    const join: JoinMessage = { name: tasks.join('+'), host: 'memory', pid: 0, tasks, anyModule: false, functions: false, capacity, pool: 'inline' };
    return { member: this.scheduler.join(join, link), link };
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const answer = (cluster: MemoryCluster, member: Member, lease: Lease, value: unknown) => cluster.scheduler.settle(member, [OK, lease.id, value]);

describe('Scheduler (no transport)', () => {
  test('routes each task to a worker that offers it, within that worker\'s window', async () => {
    const cluster = new MemoryCluster();
    const a = cluster.join(['mem.x']);
    const b = cluster.join(['mem.y']);
    // Both keep talking: this test is about routing, not the 60 ms leases a busy machine can miss.
    a.member.lastHeard = b.member.lastHeard = Date.now() + 1e6;
    const xs = Array.from({ length: 10 }, (_, i) => cluster.submit(work.x, i));
    const y = cluster.submit(work.y, 99);
    await tick();
    assert.equal(a.link.runs.length, 8, 'a capacity-1 worker starts with a window of 8');
    assert.deepEqual(b.link.runs.map((l) => l.job.args), [[99]]);
    assert.equal(xs[9]!.state, 'running', 'jobs past the window park (running) rather than block the queue');
    answer(cluster, b.member, b.link.runs[0]!, 99);
    assert.equal(await y, 99);
    for (const lease of [...a.link.runs]) answer(cluster, a.member, lease, lease.job.args[0]);
    await tick();
    for (const lease of a.link.runs.slice(8)) answer(cluster, a.member, lease, lease.job.args[0]);
    assert.deepEqual(await Promise.all(xs), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await cluster.shutdown();
  });

  test('a task no connected worker offers fails after unroutableTimeout', async () => {
    const cluster = new MemoryCluster();
    cluster.join(['mem.x']);
    await assert.rejects(cluster.submit(work.y, 1), (error: Error) => error instanceof UnknownTaskError && /mem\.y.*they offer mem\.x/.test(error.message));
    await cluster.shutdown();
  });

  test('a task whose only worker is silent past its lease waits for it (not UnknownTaskError) and runs when it speaks again', async () => {
    const cluster = new MemoryCluster();
    const a = cluster.join(['mem.x']);
    a.member.lastHeard = Date.now() - 1e6; // silent since long ago: lost at the next lease check
    const lost = await cluster.next('worker-lost');
    assert.match(lost.reason, /lease expired/);
    const b = cluster.join(['mem.y']); // a ready worker, so the executor has room to dispatch
    b.member.lastHeard = Date.now() + 1e6;
    const future = cluster.submit(work.x, 7);
    // A task nobody offers, submitted after it, fails once unroutableTimeout (30 ms here) has
    // passed for both; the silent worker's task still waits: its worker offers it.
    await assert.rejects(cluster.submit(work.z, 1), (error: Error) => error instanceof UnknownTaskError && /mem\.z.*they offer mem\.x, mem\.y/.test(error.message));
    assert.equal(future.state, 'running', 'the task still waits for the worker that offers it');
    assert.equal(a.link.runs.length, 0);
    a.member.lastHeard = Date.now() + 1e6;
    cluster.scheduler.heard(a.member);
    await tick();
    answer(cluster, a.member, a.link.runs[0]!, 7);
    assert.equal(await future, 7);
    await cluster.shutdown();
  });

  test('a silent worker loses its leases to another; its late answer is dropped; when it speaks again its stale tasks are cancelled', async () => {
    const cluster = new MemoryCluster();
    const a = cluster.join(['mem.x']);
    const future = cluster.submit(work.x, 5);
    await tick();
    const stale = a.link.runs[0]!;
    const b = cluster.join(['mem.x']);
    b.member.lastHeard = Date.now() + 1e6; // b keeps talking
    const lost = await cluster.next('worker-lost'); // a says nothing past its 60 ms lease
    assert.match(lost.reason, /lease expired/);
    assert.equal(a.member.state, 'unresponsive');
    const moved = b.link.runs[0]!;
    assert.equal(moved.job, stale.job, 'the task was not moved to the other worker');
    cluster.scheduler.heard(a.member);
    assert.equal(a.member.state, 'ready');
    assert.deepEqual(a.link.cancels, [stale.id]);
    answer(cluster, a.member, stale, 'late');
    assert.equal(cluster.scheduler.dropped, 1);
    answer(cluster, b.member, moved, 5);
    assert.equal(await future, 5);
    await cluster.shutdown();
  });

  test('a task lost with its worker more than maxRedeliveries times fails with WorkerCrashedError', async () => {
    const cluster = new MemoryCluster();
    const future = cluster.submit(work.x, 1);
    for (let i = 0; i <= 2; i++) {
      const w = cluster.join(['mem.x']);
      await tick();
      assert.equal(w.link.runs.length, 1);
      cluster.scheduler.leave(w.member, 'killed');
    }
    await assert.rejects(future, /moved off lost workers 2 times already/);
    await cluster.shutdown();
  });
});
