// Celery's canvas (group, chain, chord) on the broker-backed cluster, with a broker worker in
// this process on a memory broker: the same checks as every other executor.
import { after, before } from 'node:test';
import { ClusterExecutor } from '../../src/index.js';
import { workflowChecks } from '../workflow-suite.js';
import { TASKS, freshQueue, startWorker, type FleetWorker } from './fleet.js';
import { fileURLToPath } from 'node:url';

const url = `memory://workflows-${process.pid}`;
const queue = freshQueue('workflows');
let worker: FleetWorker;
before(async () => {
  worker = await startWorker(url, { queues: [queue], concurrency: 8, tasks: [TASKS, fileURLToPath(new URL('../fixtures/cluster-tasks.js', import.meta.url))] });
  await worker.ready;
});
after(() => worker.stop());
workflowChecks('ClusterExecutor({ broker: memory })', () => new ClusterExecutor({ broker: url, queue }));
