// A submitter process for reliability-killed-submitter.test.ts: submits COUNT ledgered tasks
// (arguments 0..COUNT-1) to QUEUE on the broker URL, prints their future ids as one line
// `ids [...]`, then keeps running until the test kills it.
// Usage: node submitter-child.js URL QUEUE COUNT MS LEDGER
import { ClusterExecutor } from '../../src/index.js';
import rel from '../fixtures/reliability-tasks.js';

const [url, queue, count, ms, ledger] = process.argv.slice(2);
const cluster = new ClusterExecutor({ broker: url!, queue: queue! });
await cluster.start();
const futures = Array.from({ length: Number(count) }, (_, i) => cluster.submit(rel.ledgered, i, Number(ms), ledger!));
process.stdout.write(`ids ${JSON.stringify(futures.map((future) => future.id))}\n`);
setInterval(() => {}, 1 << 30);
