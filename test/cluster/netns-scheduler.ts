// The scheduler side of the network-namespace test (netns.test.ts starts it inside its own
// namespace with `ip netns exec`). It waits for two workers, runs the tasks, cuts the link to
// one worker (its own end of the veth pair) once a third of them are done, and prints one JSON
// line per step on stdout, the last one a summary. Bounded: it gives up after 60 s.
import { execFileSync } from 'node:child_process';
import { ClusterExecutor, type Future } from '../../src/index.js';
import ct from '../fixtures/cluster-tasks.js';

const [port, count, cutInterface] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]!];
const say = (line: object) => console.log(JSON.stringify(line));
setTimeout(() => { say({ event: 'gave-up' }); process.exit(2); }, 60_000).unref();

const cluster = new ClusterExecutor({ listen: { host: '0.0.0.0', port }, authkey: process.env.WEFT_AUTHKEY!, heartbeatInterval: 100, leaseTimeout: 800 });
const lost: string[] = [];
let redelivered = 0;
cluster.on('worker-lost', (w) => lost.push(`${w.name}: ${w.reason}`));
cluster.on('task-redelivered', () => redelivered++);
await cluster.start();
say({ event: 'listening' });
await new Promise<void>((resolve) => {
  const check = () => cluster.workers().length >= 2 && (cluster.off('worker-joined', check), resolve());
  cluster.on('worker-joined', check);
  check();
});
say({ event: 'joined', workers: cluster.workers().map((w) => w.name) });

const settled: number[] = new Array(count).fill(0);
let done = 0;
let cut = false;
const futures: Future<{ value: number; pid: number }>[] = [];
for (let i = 0; i < count; i++) {
  const future = cluster.submit(ct.slowSquare, i, 10);
  future.onDone(() => {
    settled[i]!++;
    if (++done >= count / 3 && !cut) {
      cut = true;
      execFileSync('ip', ['link', 'set', cutInterface, 'down']);
      say({ event: 'cut', done });
    }
  });
  futures.push(future);
}
const results = await Promise.allSettled(futures);
say({
  event: 'summary',
  wrong: results.filter((r, i) => r.status !== 'fulfilled' || r.value.value !== i * i).length,
  settledOnce: settled.every((n) => n === 1),
  cut,
  redelivered,
  lost,
  pids: [...new Set(results.map((r) => (r.status === 'fulfilled' ? r.value.pid : 0)))].length,
  completed: cluster.stats.completed,
  deadLetters: cluster.deadLetters().length,
});
await cluster.shutdown({ wait: false });
process.exit(0);
