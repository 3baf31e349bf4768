// The worker thread of `weft bench sync`: the consuming (or echoing) side of each mode.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { decodeArgs } from '../core/shareable.js';
import '../sync/index.js'; // registers the primitives' handlers in this thread
import type { PipeEnd } from '../sync/pipe.js';
import type { Queue } from '../sync/queue.js';

const { mode, count, args } = workerData as { mode: string; count: number; args: unknown[] };
const [shared] = decodeArgs(args, 'thread');
const port = (args[0] as MessagePort | undefined) ?? parentPort!;

async function run(): Promise<void> {
  switch (mode) {
    case 'queue': {
      const queue = shared as Queue;
      for (let i = 0; i < count; i++) await queue.get();
      break;
    }
    case 'pipe': {
      const end = shared as PipeEnd;
      for (let i = 0; i < count; i++) await end.send(await end.recv());
      break;
    }
    case 'port':
    case 'port-echo':
      await new Promise<void>((resolve) => {
        let seen = 0;
        port.on('message', (item: unknown) => {
          if (mode === 'port-echo') port.postMessage(item);
          if (++seen === count) resolve();
        });
      });
      port.close();
      break;
  }
  parentPort!.postMessage('done');
}

void run();
