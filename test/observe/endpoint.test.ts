// /metrics served by the cluster's scheduler (the `metrics` option) and by `weft worker
// --metrics-port`, scraped after known work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ClusterExecutor } from '../../src/index.js';
import tasks from '../fixtures/observe-tasks.js';
import { FIXTURES, spawnWorker, stopWorker } from '../cluster/helpers.js';
import { until } from '../helpers.js';

async function scrape(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  return response.text();
}

test('the embedded scheduler serves /metrics: its tasks and its workers', async () => {
  const cluster = new ClusterExecutor({ listen: { port: 0 }, authkey: 'endpoint', localWorkers: 1, metrics: { port: 0 } });
  try {
    await cluster.start();
    assert.ok(cluster.metricsPort > 0);
    assert.deepEqual(await Promise.all([1, 2, 3, 4].map((n) => cluster.submit(tasks.double, n))), [2, 4, 6, 8]);
    const text = await scrape(cluster.metricsPort);
    assert.match(text, new RegExp(`^weft_tasks_submitted_total\\{executor="ClusterExecutor",task="${tasks.double.taskName}"\\} 4$`, 'm'));
    assert.match(text, new RegExp(`^weft_tasks_completed_total\\{executor="ClusterExecutor",task="${tasks.double.taskName}"\\} 4$`, 'm'));
    assert.match(text, /^weft_workers_alive\{executor="ClusterExecutor"\} 1$/m);
  } finally {
    await cluster.shutdown();
  }
  await assert.rejects(fetch(`http://127.0.0.1:${cluster.metricsPort}/metrics`), 'closed with the cluster');
});

test('weft worker --metrics-port serves the worker\'s own figures', async () => {
  const cluster = new ClusterExecutor({ listen: { port: 0 }, authkey: 'endpoint-cli' });
  await cluster.start();
  const worker = spawnWorker(`tcp://127.0.0.1:${cluster.port}`, 'endpoint-cli', ['--tasks', join(FIXTURES, 'observe-tasks.js'), '--pool', 'threads', '--concurrency', '2', '--metrics-port', '0']);
  try {
    await until(() => /metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(worker.output()), 20_000, 'the worker to print its metrics address');
    const port = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(worker.output())![1]);
    assert.deepEqual(await Promise.all([5, 6, 7].map((n) => cluster.submit(tasks.double, n))), [10, 12, 14]);
    const text = await scrape(port);
    assert.match(text, new RegExp(`^weft_tasks_completed_total\\{executor="ThreadPool",task="${tasks.double.taskName}"\\} 3$`, 'm'));
    assert.match(text, /^weft_workers_alive\{executor="ThreadPool"\} 2$/m);
  } finally {
    await cluster.shutdown();
    await stopWorker(worker);
  }
});
