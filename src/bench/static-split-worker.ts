// A worker of the `static split` row of `weft bench pi`: runs the share of tasks it is told to
// in one loop and answers once, with no queue and no message per task.
import { parentPort } from 'node:worker_threads';
import { monteCarloLoop } from './tasks.js';

parentPort!.on('message', ({ tasks, samples }: { tasks: number; samples: number }) => {
  parentPort!.postMessage(monteCarloLoop(tasks, samples));
});
