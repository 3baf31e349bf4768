// The articles' multiprocessing.managers worker: it connects to the master's manager, takes
// numbers from the task queue (giving up on an empty queue after a second), squares them and
// puts the results on the result queue. See manager-master.ts for the two commands.
import { Manager, TimeoutError, type Queue } from 'weft';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

const serverAddr = option('host', '127.0.0.1');
const port = Number(option('port', '5000'));
const delay = Number(option('delay', '1000')); // the article sleeps a second per task
console.log(`Connect to server ${serverAddr}:${port}...`);
const m = await Manager.connect({ host: serverAddr, port, authkey: 'abc' });

const task = await m.get<Queue<number>>('taskQueue');
const result = await m.get<Queue<string>>('resultQueue');

for (let i = 0; i < 10; i++) {
  try {
    const n = await task.get({ timeout: 1000 });
    console.log(`run task ${n} * ${n}...`);
    const r = `${n} * ${n} = ${n * n}`;
    await new Promise((resolve) => setTimeout(resolve, delay));
    await result.put(r);
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error;
    console.log('task queue is empty.');
  }
}

await m.close();
console.log('worker exit.');
