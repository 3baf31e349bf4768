// A caller that starts two local workers, prints their pids and waits to be killed
// (cluster.test.ts checks that its workers leave when it dies).
import { ClusterExecutor } from '../../src/index.js';

const cluster = new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey: 'orphans', localWorkers: 2 });
await cluster.start();
console.log(JSON.stringify(cluster.workers().map((w) => w.pid)));
setInterval(() => {}, 1 << 30);
