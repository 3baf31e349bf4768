// Reliability of the broker-backed cluster (issue 10): `weft worker --broker` processes killed
// with SIGKILL in the middle of a run. Kills are real signals to real processes; the pause
// between kills is the injection's cadence, not synchronisation: every assertion waits on the
// futures. The ledger the tasks write counts the tasks that ran twice (at least once delivery).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ClusterExecutor } from '../../src/index.js';
import { removeQueues } from '../../src/broker/remove-queues.js';
import rel from '../fixtures/reliability-tasks.js';
import { tempDir } from '../helpers.js';
import { freshQueue, startWorker, type FleetWorker } from './fleet.js';
import { Ledger, REL_TASKS, SettleLog, forgetRedisResults, within, wrongValues } from './reliability-helpers.js';

const FLEET = 3;

// NATS JetStream takes a few times longer per task here (a KV create and an ack request per
// task, each a stream write): half the tasks keep its run as long as Redis's.
const brokers: [string, string, number][] = [
  ['redis', 'redis://127.0.0.1:6379?redeliverAfter=1000', 2000],
  ['nats', 'nats://127.0.0.1:4222?redeliverAfter=1000', 1000],
];

for (const [kind, url, TASKS] of brokers) {
  test(`${kind}: ${TASKS} tasks while a worker is SIGKILLed every few hundred ms and replaced: every future settles once, with its value`, { timeout: 45_000 }, async (t) => {
    const queue = freshQueue(`killed-${kind}`);
    const ledger = new Ledger(join(tempDir(), 'ledger'));
    const alive = new Set<FleetWorker>();
    const ready = new Set<FleetWorker>();
    const everyone: FleetWorker[] = [];
    const spawnOne = async (): Promise<FleetWorker> => {
      const worker = await startWorker(url, { queues: [queue], tasks: [REL_TASKS], pool: 'green', concurrency: 8 });
      everyone.push(worker);
      alive.add(worker);
      void worker.exited.then(() => { alive.delete(worker); ready.delete(worker); });
      worker.ready.then(() => ready.add(worker), () => {});
      return worker;
    };
    const first = await Promise.all(Array.from({ length: FLEET }, spawnOne));
    await within(Promise.all(first.map((w) => w.ready)), 20_000, `the first ${FLEET} workers to consume`);
    const cluster = new ClusterExecutor({ broker: url, queue });
    let finished = false;
    let kills = 0;
    let killer: Promise<void> = Promise.resolve();
    try {
      const started = Date.now();
      const futures = Array.from({ length: TASKS }, (_, i) => cluster.submit(rel.ledgered, i, 4, ledger.path));
      const log = new SettleLog(futures);
      const all = Promise.all(futures).finally(() => { finished = true; });
      killer = (async () => {
        while (!finished) {
          await new Promise((resolve) => setTimeout(resolve, 150 + Math.random() * 150));
          // Kill with the fleet whole and at least two consuming: 2 or 3 worker processes are
          // alive at any time, at least one of them consuming.
          const up = [...ready];
          if (finished || alive.size < FLEET || up.length < 2) continue;
          // A worker running a task now, where there is one: a kill that hits work in flight
          // is the case under test (a worker holding only prefetched messages is the easy one).
          const busy = ledger.busyPids();
          const running = up.filter((w) => busy.has(w.pid));
          const candidates = running.length > 0 ? running : up;
          const victim = candidates[Math.floor(Math.random() * candidates.length)]!;
          victim.kill('SIGKILL');
          ready.delete(victim);
          kills++;
          void spawnOne();
        }
      })();
      const values = await within(all, 30_000, `all ${TASKS} futures to settle (${log.settled} had, ${kills} kills, ${alive.size} workers alive)`);
      const seconds = (Date.now() - started) / 1000;
      await killer;
      assert.deepEqual(wrongValues(values), [], 'futures with a wrong value');
      assert.deepEqual(log.notOnce(), [], 'futures that did not settle exactly once');
      const { starts, finishes } = ledger.read();
      assert.equal(finishes.size, TASKS, 'every task finished at least once on some worker');
      const twice = ledger.twice();
      t.diagnostic(`${kind}: ${TASKS} tasks in ${seconds.toFixed(1)} s with ${kills} SIGKILLs; started more than once: ${twice.started}, finished more than once: ${twice.finished}; runs started ${[...starts.values()].reduce((a, b) => a + b, 0)}`);
      assert.ok(kills >= 3, `only ${kills} kills happened during the run`);
      assert.ok(twice.started > 0, 'no task started twice: the kills hit no task in flight, so the test proved nothing');
      // A second reader gets every outcome from the store, as stored by the first run that finished.
      const reader = new ClusterExecutor({ broker: url, queue });
      try {
        const stored = await within(Promise.all(futures.map((f) => reader.result<{ value: number; pid: number }>(f.id))), 15_000, 'a second submitter to read every result from the store');
        assert.deepEqual(stored, values, 'the stored outcomes are the ones the futures settled with');
      } finally {
        await reader.shutdown();
      }
      if (kind === 'redis') await forgetRedisResults(url, futures.map((f) => f.id));
    } finally {
      finished = true;
      await killer;
      await cluster.shutdown({ cancelPending: true });
      for (const worker of everyone) worker.kill('SIGKILL');
      await Promise.all(everyone.map((w) => w.exited));
      await removeQueues(url, [queue, `${queue}.dead`]);
    }
  });
}
