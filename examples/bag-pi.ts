// The articles' Monte Carlo pi, calcPi(3000, 4000), as Spark writes it:
// `sc.parallelize(range(3000)).map(test).reduce(add)`. Each input is a seed, so every executor
// samples the same points and the estimate can be checked against a plain loop.
//
//   npm run example -- bag-pi [inline|green|threads|processes|cluster]
import { bag, ClusterExecutor, GreenPool, InlineExecutor, ProcessPool, ThreadPool, type Executor } from 'weft';
import tasks from './bag-tasks.js';

const executors: Record<string, () => Executor | Promise<Executor>> = {
  inline: () => new InlineExecutor(),
  green: () => new GreenPool({ size: 4 }),
  threads: () => new ThreadPool({ workers: 2 }),
  processes: () => new ProcessPool({ workers: 2 }),
  cluster: async () => {
    const cluster = new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey: 'bag-pi', localWorkers: 2 });
    await cluster.start();
    return cluster;
  },
};

const name = process.argv[2] ?? 'threads';
const make = executors[name];
if (!make) {
  console.error(`unknown executor ${name}; choose one of ${Object.keys(executors).join(', ')}`);
  process.exit(2);
}
const [futures, tries] = [3000, 4000];
const seeds = Array.from({ length: futures }, (_, i) => i);

await using executor = await make();
const started = performance.now();
const hits = await bag(seeds).map(tasks.hits, tries).reduce(tasks.add).compute(executor);
const seconds = (performance.now() - started) / 1000;
const pi = (4 * hits) / (futures * tries);

let sequential = 0;
for (const seed of seeds) sequential += tasks.hits(seed, tries);
console.log(`pi = ${pi} (${name}, ${seconds.toFixed(3)} s)`);
console.log(`matches the sequential run: ${hits === sequential} (${hits} of ${futures * tries} points inside)`);
if (hits !== sequential) process.exitCode = 1;
