// The articles' multiprocessing.managers master, ported line for line: it serves a task queue
// and a result queue over TCP with an authkey, puts 10 random numbers into the task queue, and
// reads the squares back from the result queue with a timeout. Start it, then the worker from a
// second shell (or on another host, with --host):
//
//   shell 1:  node build/examples/manager-master.js [--port 5000]
//   shell 2:  node build/examples/manager-worker.js [--host 127.0.0.1] [--port 5000]
import { Manager, Queue } from 'weft';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

// The queues live here, in the master.
const taskQueue = new Queue<number>();
const resultQueue = new Queue<string>();

// Register both on the network; the callables return the queues.
const manager = new Manager({ host: option('host', '127.0.0.1'), port: Number(option('port', '5000')), authkey: 'abc' })
  .register('taskQueue', () => taskQueue)
  .register('resultQueue', () => resultQueue);
await manager.start();
console.log(`master serving on ${manager.url}`);

// The master gets the same queues through the manager.
const task = await manager.get<Queue<number>>('taskQueue');
const result = await manager.get<Queue<string>>('resultQueue');

for (let i = 0; i < 10; i++) {
  const n = Math.floor(Math.random() * 10000);
  console.log(`Put task ${n}...`);
  await task.put(n);
}

console.log('Try get results...');
for (let i = 0; i < 10; i++) {
  const r = await result.get({ timeout: Number(option('timeout', '10000')) });
  console.log(`Result: ${r}`);
}

await manager.shutdown();
console.log('master exit.');
