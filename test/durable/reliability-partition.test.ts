// Reliability of the broker-backed cluster (issue 10): the workers are cut off from Redis for
// 2 s (their connections go through a relay that drops them and refuses new ones meanwhile)
// while the submitter stays connected, so it hears of no interruption itself: whatever the
// workers were storing, replying or acknowledging when they were cut off must still reach it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ClusterExecutor } from '../../src/index.js';
import { removeQueues } from '../../src/broker/remove-queues.js';
import rel from '../fixtures/reliability-tasks.js';
import { tempDir } from '../helpers.js';
import { freshQueue, startWorker, type FleetWorker } from './fleet.js';
import { GateRelay, Ledger, REL_TASKS, SettleLog, forgetRedisResults, waitUntil, within, wrongValues } from './reliability-helpers.js';

const TASKS = 2000;
const PARTITION_MS = 2000;

test(`redis: workers cut off from the server for ${PARTITION_MS} ms mid-run while the submitter stays connected: every future settles once with its value`, { timeout: 60_000 }, async (t) => {
  const relay = await GateRelay.start(6379);
  const direct = 'redis://127.0.0.1:6379?redeliverAfter=1000';
  const cutOff = `redis://127.0.0.1:${relay.port}?redeliverAfter=1000`;
  const queue = freshQueue('partition');
  const ledger = new Ledger(join(tempDir(), 'ledger'));
  const workers: FleetWorker[] = [];
  const cluster = new ClusterExecutor({ broker: direct, queue });
  let ids: string[] = [];
  try {
    for (let i = 0; i < 2; i++) workers.push(await startWorker(cutOff, { queues: [queue], tasks: [REL_TASKS], pool: 'green', concurrency: 8 }));
    await within(Promise.all(workers.map((w) => w.ready)), 20_000, 'two workers to consume');
    let interruptions = 0;
    cluster.on('connection-error', () => interruptions++);
    const started = Date.now();
    const futures = Array.from({ length: TASKS }, (_, i) => cluster.submit(rel.ledgered, i, 2, ledger.path));
    ids = futures.map((f) => f.id);
    const log = new SettleLog(futures);
    const all = Promise.all(futures);
    all.catch(() => {});
    await waitUntil(() => log.settled >= TASKS * 0.3, 30_000, `30% of the ${TASKS} futures to settle before the partition`);
    relay.close();
    const settledAtCut = log.settled;
    await new Promise((resolve) => setTimeout(resolve, PARTITION_MS));
    relay.open();
    const healedAt = Date.now();
    const values = await within(all, 30_000, `all ${TASKS} futures to settle after the partition (${log.settled} had)`);
    assert.deepEqual(wrongValues(values), [], 'futures with a wrong value');
    assert.deepEqual(log.notOnce(), [], 'futures that did not settle exactly once');
    assert.equal(interruptions, 0, 'the submitter itself was never cut off');
    assert.ok(settledAtCut < TASKS && log.firstAfter(healedAt) !== undefined, 'tasks were left to run across the partition');
    t.diagnostic(`partition of ${PARTITION_MS} ms: first future settled ${(log.firstAfter(healedAt) ?? Date.now()) - healedAt} ms after it healed; ${TASKS} tasks in ${((Date.now() - started) / 1000).toFixed(1)} s; tasks run twice: ${ledger.twice().finished}`);
  } finally {
    await cluster.shutdown({ cancelPending: true });
    for (const worker of workers) worker.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await relay.shut();
    await forgetRedisResults(direct, ids);
    await removeQueues(direct, [queue, `${queue}.dead`]);
  }
});
