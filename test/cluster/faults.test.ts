import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterExecutor, type Future } from '../../src/index.js';
import ct from '../fixtures/cluster-tasks.js';
import { nextEvent } from './helpers.js';

/**
 * Fault injection. Kills and stops are real signals to real worker processes; the pauses
 * between kills are the injection's cadence, not synchronisation: every assertion waits on
 * futures or cluster events.
 */
describe('ClusterExecutor under faults', () => {
  test('2,000 tasks while a worker is kill -9ed every few hundred ms: each future settles once, with its value', async () => {
    const cluster = new ClusterExecutor({
      listen: { host: '127.0.0.1', port: 0 }, authkey: 'faults', localWorkers: 2, localConcurrency: 2, heartbeatInterval: 100, leaseTimeout: 1000,
    });
    await cluster.start();
    let redelivered = 0;
    cluster.on('task-redelivered', () => redelivered++);
    const settled = new Map<Future<unknown>, number>();
    const futures: Future<{ value: number }>[] = [];
    for (let i = 0; i < 2000; i++) {
      const future = cluster.submit(ct.slowSquare, i, 10);
      settled.set(future, 0);
      future.onDone(() => settled.set(future, settled.get(future)! + 1));
      futures.push(future);
    }
    let kills = 0;
    let finished = false;
    const all = Promise.all(futures).finally(() => { finished = true; });
    const killer = (async () => {
      // Kill only while both workers are up, so the run never waits for a restart with no
      // worker at all; bounded, so the test stays quick.
      while (!finished && kills < 8) {
        await new Promise((resolve) => setTimeout(resolve, 150 + Math.random() * 150));
        const workers = cluster.workers();
        const busy = workers.filter((w) => w.inFlight > 0);
        const victim = busy[Math.floor(Math.random() * busy.length)];
        if (finished || !victim || workers.length < 2) continue;
        try {
          process.kill(victim.pid, 'SIGKILL');
          kills++;
        } catch {
          // it had just exited
        }
      }
    })();
    try {
      const results = await all;
      await killer;
      results.forEach((result, i) => assert.equal(result.value, i * i, `task ${i}`));
      assert.ok([...settled.values()].every((count) => count === 1), 'a future settled more than once');
      console.log(`killed ${kills} times, ${redelivered} tasks moved`);
      assert.ok(kills >= 3, `only ${kills} kills happened during the run`);
      assert.ok(redelivered > 0, 'no task was ever moved off a killed worker');
      assert.deepEqual(cluster.deadLetters(), []);
      assert.equal(cluster.stats.completed, 2000);
    } finally {
      finished = true;
      await killer;
      await cluster.shutdown();
    }
  });

  test('a worker that stops heartbeating (SIGSTOP) loses its lease; its task finishes elsewhere; its late result is dropped', async () => {
    const cluster = new ClusterExecutor({
      listen: { host: '127.0.0.1', port: 0 }, authkey: 'faults', localWorkers: 2, localConcurrency: 1, heartbeatInterval: 100, leaseTimeout: 1000,
    });
    await cluster.start();
    let stopped: number | undefined;
    try {
      const future = cluster.submit(ct.tagged, 9, 250);
      let settledCount = 0;
      future.onDone(() => settledCount++);
      await new Promise((resolve) => future.onProgress(resolve));
      const holder = cluster.workers().find((w) => w.inFlight === 1)!;
      const lost = nextEvent(cluster, 'worker-lost', (w) => w.pid === holder.pid);
      stopped = holder.pid;
      process.kill(holder.pid, 'SIGSTOP');
      assert.match((await lost).reason, /lease expired/);
      const result = await future;
      assert.equal(result.value, 9);
      assert.notEqual(result.pid, holder.pid, 'the result came from the stopped worker');
      assert.equal(cluster.workers().find((w) => w.pid === holder.pid)?.state, 'unresponsive');

      const pid = stopped;
      const recovered = nextEvent(cluster, 'worker-recovered', (w) => w.pid === pid);
      const dropped = nextEvent(cluster, 'result-dropped');
      stopped = undefined;
      process.kill(pid, 'SIGCONT');
      await recovered;
      await dropped; // its late answer for the revoked lease
      assert.equal(settledCount, 1);
      assert.equal(await future, result, 'the future changed after the late result');
      // The recovered worker serves again.
      const more = await Promise.all(Array.from({ length: 8 }, (_, i) => cluster.submit(ct.add, i, 1)));
      assert.deepEqual(more, [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.ok(cluster.workers().every((w) => w.state === 'ready'));
    } finally {
      if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
      await cluster.shutdown();
    }
  });
});
