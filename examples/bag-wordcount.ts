// The articles' word count as Spark writes it: split the lines into words, pair each with 1,
// add the pairs up by key. The same collection runs on any executor:
//
//   npm run example -- bag-wordcount [inline|green|threads|processes|cluster] [FILE]
//
// prints the plan, the ten most frequent words, and whether the counts match a plain loop's.
import { readFileSync } from 'node:fs';
import { bag, ClusterExecutor, GreenPool, InlineExecutor, ProcessPool, ThreadPool, type Executor } from 'weft';
import tasks, { sampleText } from './bag-tasks.js';

const executors: Record<string, () => Executor | Promise<Executor>> = {
  inline: () => new InlineExecutor(),
  green: () => new GreenPool({ size: 4 }),
  threads: () => new ThreadPool({ workers: 2 }),
  processes: () => new ProcessPool({ workers: 2 }),
  cluster: async () => {
    const cluster = new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey: 'bag-wordcount', localWorkers: 2 });
    await cluster.start();
    return cluster;
  },
};

const [name = 'threads', file] = process.argv.slice(2);
const make = executors[name];
if (!make) {
  console.error(`unknown executor ${name}; choose one of ${Object.keys(executors).join(', ')}`);
  process.exit(2);
}
const lines = (file ? readFileSync(file, 'utf8') : sampleText()).split('\n');

const counts = bag(lines, { partitions: 8 })
  .flatMap(tasks.words) //          line -> its words
  .map(tasks.withOne) //            word -> [word, 1]
  .reduceByKey(tasks.add); //       added up on each partition, then across partitions by key
console.log(counts.explain());

await using executor = await make();
const started = performance.now();
const pairs = await counts.collect(executor);
const seconds = (performance.now() - started) / 1000;

// The same count, one line after the other in this thread.
const sequential = new Map<string, number>();
for (const line of lines) for (const word of tasks.words(line)) sequential.set(word, (sequential.get(word) ?? 0) + 1);
const same = pairs.length === sequential.size && pairs.every(([word, count]) => sequential.get(word) === count);

const total = pairs.reduce((sum, [, count]) => sum + count, 0);
console.log(`${total} words, ${pairs.length} distinct, in ${seconds.toFixed(3)} s (${name})`);
for (const [word, count] of pairs.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10)) console.log(`${String(count).padStart(6)}  ${word}`);
console.log(`matches the sequential count: ${same}`);
if (!same) process.exitCode = 1;
