// Reliability of the broker-backed cluster (issue 10): a worker stopped with SIGSTOP while it
// holds tasks. It stops renewing its hold on them, so after the broker's redeliverAfter they go
// to another worker and finish there; once it is continued, it finishes its own runs late, and
// their outcomes are dropped (the first stored wins): every future settles once, with the
// outcome of the run that finished first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ClusterExecutor } from '../../src/index.js';
import type { BrokerWorkerInfo } from '../../src/cluster/durable/messages.js';
import { removeQueues } from '../../src/broker/remove-queues.js';
import rel, { expectedValue } from '../fixtures/reliability-tasks.js';
import { firstProgress, tempDir } from '../helpers.js';
import { freshQueue, startWorker, type FleetWorker } from './fleet.js';
import { Ledger, REL_TASKS, SettleLog, forgetRedisResults, waitUntil, within } from './reliability-helpers.js';

const REDELIVER_AFTER = 1500;
const TASK_MS = 1500;
/** Two running on the stopped worker (concurrency 2) and two waiting in its prefetch. */
const TASKS = 4;

const brokers: [string, string][] = [
  ['redis', `redis://127.0.0.1:6379?redeliverAfter=${REDELIVER_AFTER}`],
  ['nats', `nats://127.0.0.1:4222?redeliverAfter=${REDELIVER_AFTER}`],
];

for (const [kind, url] of brokers) {
  test(`${kind}: a worker SIGSTOPped while it holds tasks: they finish on another worker after redeliverAfter, and after SIGCONT its late outcomes are dropped`, { timeout: 40_000 }, async (t) => {
    const queue = freshQueue(`stopped-${kind}`);
    const ledger = new Ledger(join(tempDir(), 'ledger'));
    const workers: FleetWorker[] = [];
    const cluster = new ClusterExecutor({ broker: url, queue });
    /** This test's workers as they answer now (other tests' workers share the control topic). */
    const infoOf = async (pid: number): Promise<BrokerWorkerInfo | undefined> => (await cluster.inspect(300)).find((w) => w.pid === pid);
    let stopped: FleetWorker | undefined;
    const ids: string[] = [];
    try {
      stopped = await startWorker(url, { queues: [queue], tasks: [REL_TASKS], pool: 'green', concurrency: 2 });
      workers.push(stopped);
      await within(stopped.ready, 20_000, 'the first worker to consume');
      const futures = Array.from({ length: TASKS }, (_, i) => cluster.submit(rel.ledgered, i, TASK_MS, ledger.path, true));
      ids.push(...futures.map((f) => f.id));
      const log = new SettleLog(futures);
      await within(Promise.all(futures.slice(0, 2).map(firstProgress)), 15_000, 'the first worker to start two tasks');
      await waitUntil(async () => (await infoOf(stopped!.pid))?.inFlight === TASKS, 10_000, `the first worker to hold all ${TASKS} tasks`);
      process.kill(stopped.pid, 'SIGSTOP');
      const stoppedAt = Date.now();
      const other = await startWorker(url, { queues: [queue], tasks: [REL_TASKS], pool: 'green', concurrency: 2 });
      workers.push(other);
      await within(other.ready, 20_000, 'the second worker to consume');
      const values = await within(Promise.all(futures), 20_000, `the ${TASKS} tasks to finish on the second worker (${log.settled} had)`);
      const movedAfter = Math.min(...log.times) - stoppedAt;
      values.forEach((v, i) => {
        assert.equal(v.value, expectedValue(i), `task ${i}`);
        assert.equal(v.pid, other.pid, `task ${i} ran on the worker that was not stopped`);
      });
      assert.ok(movedAfter >= REDELIVER_AFTER, `the first task finished ${movedAfter} ms after the stop, before redeliverAfter (${REDELIVER_AFTER} ms)`);

      process.kill(stopped.pid, 'SIGCONT');
      const resumedAt = Date.now();
      // It finishes what it held: two runs cut short by the stop and the two it had waiting.
      await waitUntil(async () => {
        const info = await infoOf(stopped!.pid);
        return info !== undefined && info.inFlight === 0 && info.duplicates === TASKS;
      }, 15_000, `the continued worker to finish its ${TASKS} late runs and drop their outcomes (duplicates = ${TASKS})`);
      const late = ledger.read();
      const lateRuns = readFinishesBy(ledger, stopped.pid);
      t.diagnostic(`${kind}: stopped worker's tasks finished elsewhere ${movedAfter} ms after SIGSTOP (redeliverAfter ${REDELIVER_AFTER} ms); after SIGCONT it dropped ${lateRuns} late outcomes within ${Date.now() - resumedAt} ms; tasks started twice: ${[...late.starts.values()].filter((n) => n > 1).length}`);
      assert.equal(lateRuns, TASKS, 'every late run of the continued worker finished');
      assert.deepEqual(log.notOnce(), [], 'futures that did not settle exactly once');
      const reader = new ClusterExecutor({ broker: url, queue });
      try {
        const stored = await within(Promise.all(ids.map((id) => reader.result<{ value: number; pid: number }>(id))), 10_000, 'the stored results');
        assert.deepEqual(stored, values, 'the stored outcomes are the first runs\', not the late ones');
      } finally {
        await reader.shutdown();
      }
      // The continued worker goes on: with the other one gone, it runs new tasks at full concurrency.
      other.kill('SIGKILL');
      await other.exited;
      const after = Array.from({ length: 4 }, (_, i) => cluster.submit(rel.ledgered, TASKS + i, 10, ledger.path));
      ids.push(...after.map((f) => f.id));
      const more = await within(Promise.all(after), 15_000, 'the continued worker to run new tasks');
      more.forEach((v, i) => assert.deepEqual(v, { value: expectedValue(TASKS + i), pid: stopped!.pid }));
    } finally {
      if (stopped) process.kill(stopped.pid, 'SIGCONT');
      await cluster.shutdown({ cancelPending: true });
      for (const worker of workers) worker.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
      if (kind === 'redis') await forgetRedisResults(url, ids);
      await removeQueues(url, [queue, `${queue}.dead`]);
    }
  });
}

function readFinishesBy(ledger: Ledger, pid: number): number {
  return ledger.lines().filter(([kind, , by]) => kind === 'd' && by === pid).length;
}
