// The articles' Celery program on a broker that outlives it: tasks and results live on Redis,
// RabbitMQ or NATS, so this program may die and the workers still finish; any number of
// programs submit to one fleet. Start workers (on this host or any other, same checkout, built):
//
//   npx weft worker --broker redis://127.0.0.1:6379 --tasks build/examples/cluster-tasks.js --pool threads
//
// then the submitter:
//
//   npm run example -- durable-cluster --broker redis://127.0.0.1:6379 [--local 2] [--tasks 3000 --samples 4000]
//
// `--local N` starts N workers on this host instead. It prints pi, then reads one result back
// by id with cluster.result(id), as a second program would.
import { parseArgs } from 'node:util';
import { ClusterExecutor, group, sig } from 'weft';
import pi from './cluster-tasks.js';

const { values } = parseArgs({
  options: {
    broker: { type: 'string', default: 'redis://127.0.0.1:6379' },
    local: { type: 'string', default: '0' },
    tasks: { type: 'string', default: '3000' },
    samples: { type: 'string', default: '4000' },
  },
});
const [tasks, samples] = [Number(values.tasks), Number(values.samples)];

await using cluster = new ClusterExecutor({ broker: values.broker, localWorkers: Number(values.local), localPool: 'threads' });
await cluster.start();
const workers = await cluster.inspect();
if (workers.length === 0) console.log('no worker answers yet: tasks wait on the broker until one consumes them');
for (const w of workers) console.log(`worker ${w.name} on ${w.host}: ${w.pool} x ${w.capacity}`);

const started = performance.now();
const hits = await group(Array.from({ length: tasks }, () => sig(pi.monteCarlo, samples))).run(cluster);
const seconds = (performance.now() - started) / 1000;
console.log(`pi = ${(4 * hits.reduce((a, b) => a + b, 0)) / (tasks * samples)} (${tasks} tasks x ${samples} samples in ${seconds.toFixed(2)} s)`);

const one = cluster.submit(pi.monteCarlo, samples);
await one;
console.log(`task ${one.id}: ${await cluster.result(one.id)} hits, read back from the result backend`);
