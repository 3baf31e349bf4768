// Reliability of the broker-backed cluster (issue 10): the submitting process is killed with
// SIGKILL while its tasks wait on Redis, or while workers run them. The tasks live on the
// server, so workers finish them anyway, and a new submitter reads every outcome by id from
// the result store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterExecutor } from '../../src/index.js';
import { removeQueues } from '../../src/broker/remove-queues.js';
import type { LedgerValue } from '../fixtures/reliability-tasks.js';
import { tempDir } from '../helpers.js';
import { freshQueue, startWorker, type FleetWorker } from './fleet.js';
import { Ledger, REL_TASKS, forgetRedisResults, redisQueuedTasks, waitUntil, within, wrongValues } from './reliability-helpers.js';

const REDIS = 'redis://127.0.0.1:6379';
const TASKS = 1000;
const CHILD = fileURLToPath(new URL('./submitter-child.js', import.meta.url));

for (const when of ['queued', 'running'] as const) {
  const what = when === 'queued' ? 'before any worker starts' : 'while workers run its tasks';
  test(`redis: a submitter SIGKILLed ${what}: workers finish its ${TASKS} tasks and a new submitter reads every result by id`, { timeout: 40_000 }, async (t) => {
    const queue = freshQueue(`submitter-${when}`);
    const ledger = new Ledger(join(tempDir(), 'ledger'));
    const workers: FleetWorker[] = [];
    const child = spawn(process.execPath, [CHILD, REDIS, queue, String(TASKS), '3', ledger.path], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk; });
    let ids: string[] = [];
    try {
      ids = await within(new Promise<string[]>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => {
          output += chunk;
          const line = /^ids (.*)$/m.exec(output);
          if (line) resolve(JSON.parse(line[1]!) as string[]);
        });
        void exited.then(() => reject(new Error(`the submitter exited before it printed its ids:\n${output}`)));
      }), 20_000, 'the submitter to print its future ids');
      assert.equal(ids.length, TASKS);
      // Killed once its tasks are on the server: what was never published cannot outlive it.
      await waitUntil(async () => (await redisQueuedTasks(REDIS, queue)) === TASKS, 15_000, `the ${TASKS} tasks to be on the queue (in single or batch messages)`);
      const startWorkers = async () => {
        for (let i = 0; i < 2; i++) workers.push(await startWorker(REDIS, { queues: [queue], tasks: [REL_TASKS], pool: 'green', concurrency: 8 }));
        await within(Promise.all(workers.map((w) => w.ready)), 20_000, 'two workers to consume');
      };
      let finishedAtKill = 0;
      if (when === 'queued') {
        child.kill('SIGKILL');
        await exited;
        await startWorkers();
      } else {
        await startWorkers();
        await waitUntil(() => ledger.finishedRuns() >= TASKS / 4, 20_000, `a quarter of the tasks to have run`);
        child.kill('SIGKILL');
        await exited;
        finishedAtKill = ledger.finishedRuns();
        assert.ok(finishedAtKill < TASKS, 'the submitter was killed with tasks still to run');
      }
      const reader = new ClusterExecutor({ broker: REDIS, queue });
      try {
        const started = Date.now();
        const values = await within(Promise.all(ids.map((id) => reader.result<LedgerValue>(id))), 25_000, `a new submitter to read all ${TASKS} results by id`);
        assert.deepEqual(wrongValues(values), [], 'results with a wrong value');
        const twice = ledger.twice();
        t.diagnostic(`submitter killed ${what} (${finishedAtKill} of ${TASKS} had run); the new submitter had every result ${Date.now() - started} ms later; tasks run twice: ${twice.finished}`);
        assert.equal(ledger.read().finishes.size, TASKS, 'every task ran');
      } finally {
        await reader.shutdown();
      }
    } finally {
      child.kill('SIGKILL');
      for (const worker of workers) worker.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
      await forgetRedisResults(REDIS, ids);
      await removeQueues(REDIS, [queue, `${queue}.dead`]);
    }
  });
}
