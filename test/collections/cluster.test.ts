// The Bag suite on the cluster: embedded with local workers, embedded with a `weft worker
// --connect` that finds tasks by name (its pool's threads get the step tasks' modules from it),
// and broker-backed, with a worker in this process (memory://) and a `weft worker --broker`
// process (Redis). The last test shows a worker refusing a step it does not offer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bag, ClusterExecutor, RemoteError } from '../../src/index.js';
import { BrokerWorker } from '../../src/cluster/durable/broker-worker.js';
import { FIXTURES, nextEvent, spawnWorker, stopWorker, type SpawnedWorker } from '../cluster/helpers.js';
import { freshQueue, startWorker, TASKS, type FleetWorker } from '../durable/fleet.js';
import t from '../fixtures/collection-tasks.js';
import fixtureTasks from '../fixtures/tasks.js';
import { collectionSuite } from './suite.js';

const STEPS = join(FIXTURES, 'collection-tasks.js');

collectionSuite('ClusterExecutor({ listen, localWorkers })', async () => {
  const cluster = new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey: 'bag-suite', localWorkers: 2 });
  await cluster.start();
  return cluster;
});

describe('a weft worker --connect offering the steps by name', () => {
  const cluster = new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey: 'bag-remote' });
  let worker: SpawnedWorker;
  before(async () => {
    await cluster.start();
    const joined = nextEvent(cluster, 'worker-joined');
    worker = spawnWorker(`tcp://127.0.0.1:${cluster.port}`, 'bag-remote', ['--tasks', STEPS, '--pool', 'threads', '--concurrency', '2']);
    await joined;
  });
  after(() => stopWorker(worker));
  collectionSuite('ClusterExecutor({ listen }) + weft worker --tasks', () => cluster);
});

describe('a broker worker in this process (memory://, threads)', () => {
  const url = `memory://bag-${process.pid}`;
  const queue = freshQueue('bag');
  let worker: BrokerWorker;
  before(async () => {
    worker = await BrokerWorker.start({ broker: url, queues: [queue], tasks: [STEPS], pool: 'threads', concurrency: 2 });
    await worker.ready();
  });
  after(() => worker.close());
  collectionSuite("ClusterExecutor({ broker: 'memory://…' })", () => new ClusterExecutor({ broker: url, queue }));
});

describe('a weft worker --broker process (redis://, threads)', () => {
  const url = 'redis://127.0.0.1:6379';
  const queue = freshQueue('bag');
  let worker: FleetWorker;
  before(async () => {
    worker = await startWorker(url, { queues: [queue], tasks: [STEPS], pool: 'threads', concurrency: 2 });
    await worker.ready;
  });
  after(() => worker.stop());
  collectionSuite("ClusterExecutor({ broker: 'redis://…' })", () => new ClusterExecutor({ broker: url, queue }));
});

test('a worker that finds tasks by name refuses a step it does not offer, saying which', async () => {
  // A process of its own: in this one every step is registered already.
  const url = 'redis://127.0.0.1:6379';
  const queue = freshQueue('refuse');
  const worker = await startWorker(url, { queues: [queue], tasks: [TASKS], pool: 'green', concurrency: 2 });
  const cluster = new ClusterExecutor({ broker: url, queue });
  try {
    await worker.ready;
    assert.deepEqual(await bag([1, 2, 3]).map(fixtureTasks.square).collect(cluster), [1, 4, 9]);
    const refused = await bag(['a b']).flatMap(t.words).collect(cluster).then(() => undefined, (error: unknown) => error);
    assert.ok(refused instanceof RemoteError, `expected a RemoteError, got ${String(refused)}`);
    assert.match(refused.message, /this worker has no task named words \(a step of a Bag\); it offers .*square/);
  } finally {
    await cluster.shutdown();
    await worker.stop();
  }
});
