// The Executor contract (test/executor-suite.ts) on the broker-backed cluster, once per kind of
// broker: a fleet of `weft worker --broker` processes serves fresh queues, and each test's
// executor is a new submitter on them (many submitters, one fleet). `concurrency` caps what the
// submitter keeps on the broker at once, as `workers` does for a pool.
import { after, before, describe } from 'node:test';
import { serveBroker } from '../../src/broker/weft-server.js';
import { ClusterExecutor } from '../../src/index.js';
import { executorContract } from '../executor-suite.js';
import { freshQueue, startWorker, type FleetWorker } from './fleet.js';
import { startEmulator } from '../broker/sqs-emulator.js';

const weftKey = 'durable contract key';
const weftServer = await serveBroker({ port: 0, authkey: weftKey });
after(() => weftServer.close());
// SQS: fauxqs, an emulator, in this process (the workers reach it over loopback).
const sqs = await startEmulator();

const brokers: [string, string][] = [
  ['memory', `memory://contract-${process.pid}`],
  ['redis', 'redis://127.0.0.1:6379'],
  ['amqp', 'amqp://guest:guest@127.0.0.1:5672'],
  ['nats', 'nats://127.0.0.1:4222'],
  ['weft', `weft://:${encodeURIComponent(weftKey)}@127.0.0.1:${weftServer.port}`],
  ['sqs', sqs.url],
];

for (const [kind, url] of brokers) {
  describe(`ClusterExecutor({ broker: '${kind}://…' })`, () => {
    const queue = freshQueue(kind);
    let worker: FleetWorker;
    before(async () => {
      worker = await startWorker(url, { queues: [queue], concurrency: 8 });
      await worker.ready;
    });
    after(() => worker.stop());
    executorContract(`ClusterExecutor({ broker: ${kind} })`, (concurrency) => new ClusterExecutor({ broker: url, queue, concurrency }), { dropsUnstarted: true });
  });
}
