// multiprocessing's producer/consumer, ported: a producer fills a bounded Queue, two consumers
// take from it and put their answers on a second Queue, the main program reads them back.
// The Queues are weft's: shared memory between worker threads, served by this process to
// child processes. The executor is the one line that changes:
//   npm run example -- producer-consumer [threads|processes]
import { ProcessPool, Queue, ThreadPool } from 'weft';
import tasks from './producer-consumer-tasks.js';

const executors: Record<string, () => ThreadPool | ProcessPool> = {
  threads: () => new ThreadPool({ workers: 3 }),
  processes: () => new ProcessPool({ workers: 3 }),
};

const name = process.argv[2] ?? 'threads';
const make = executors[name];
if (!make) {
  console.error(`unknown executor ${name}; choose one of ${Object.keys(executors).join(', ')}`);
  process.exit(2);
}
await using executor = make();
await executor.start(); // all three workers up, so both consumers wait from the start

const jobs = new Queue<number>({ maxsize: 10 });
const results = new Queue<[string, number, number]>();
const consumers = ['c1', 'c2'].map((who) => executor.submit(tasks.consumer, who, jobs, results));
const produced = await executor.submit(tasks.producer, jobs, 100);
jobs.close(); // the consumers finish what is queued, then stop
const consumed = await Promise.all(consumers);
results.close();

let sum = 0;
const answered = new Set<number>();
for await (const [, n, square] of results) {
  sum += square;
  answered.add(n);
}
console.log(`produced ${produced}, consumed ${consumed.join(' + ')} = ${consumed.reduce((a, b) => a + b, 0)} (${name})`);
console.log(`distinct answers ${answered.size}, sum of squares ${sum}`);
