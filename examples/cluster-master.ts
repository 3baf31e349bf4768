// The master of the articles' distributed pi (Celery's group, Dispy's jobs, the managers'
// master/worker): an embedded scheduler that workers on any host join. On the master host:
//
//   WEFT_AUTHKEY=secret npm run example -- cluster-master --host 0.0.0.0 --port 5000
//
// and on each worker host (same checkout, built):
//
//   WEFT_AUTHKEY=secret npx weft worker --connect tcp://MASTER:5000 --tasks build/examples/cluster-tasks.js
//
// `--local N` also starts N workers on this host; `--workers N` waits for N workers before it
// starts; `--tasks N --samples N` size the pi group (default 3000 x 4000).
import { parseArgs } from 'node:util';
import { ClusterExecutor, group, sig } from 'weft';
import pi from './cluster-tasks.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5000' },
    local: { type: 'string', default: '0' },
    workers: { type: 'string', default: '1' },
    tasks: { type: 'string', default: '3000' },
    samples: { type: 'string', default: '4000' },
  },
});
const authkey = process.env.WEFT_AUTHKEY;
if (!authkey) throw new Error('set WEFT_AUTHKEY to the shared secret');
const [tasks, samples, wanted] = [Number(values.tasks), Number(values.samples), Number(values.workers)];

await using cluster = new ClusterExecutor({ listen: { host: values.host, port: Number(values.port) }, authkey, localWorkers: Number(values.local) });
cluster.on('worker-joined', (w) => console.log(`joined: ${w.name} on ${w.host} (${w.pool} x ${w.capacity})`));
cluster.on('worker-lost', (w) => console.log(`lost: ${w.name} (${w.reason})`));
await cluster.start();
console.log(`listening on ${cluster.url}; waiting for ${wanted} worker(s)`);
while (cluster.workers().length < wanted) await new Promise((resolve) => cluster.once('worker-joined', resolve));

const started = performance.now();
const hits = await group(Array.from({ length: tasks }, () => sig(pi.monteCarlo, samples))).run(cluster);
const seconds = (performance.now() - started) / 1000;
console.log(`pi = ${(4 * hits.reduce((a, b) => a + b, 0)) / (tasks * samples)} (${tasks} tasks x ${samples} samples in ${seconds.toFixed(2)} s)`);
for (const w of cluster.workers()) console.log(`  ${w.name}: ${w.completed} tasks`);
