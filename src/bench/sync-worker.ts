// The worker thread of `weft bench sync`: the consuming (or echoing) side of each mode.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { decodeArgs } from '../core/shareable.js';
import '../sync/index.js'; // registers the primitives' handlers in this thread
import type { PipeEnd } from '../sync/pipe.js';
import type { Queue } from '../sync/queue.js';

const { mode, count, args } = workerData as { mode: string; count: number; args: unknown[] };
const [shared] = decodeArgs(args, 'thread');
const port = (args[0] as MessagePort | undefined) ?? parentPort!;

/**
 * The i-th item sent (an object with `id: i`, or the number i): checked on both channels alike,
 * so that a figure counts items that arrived whole and in order.
 */
function check(item: unknown, i: number): void {
  const id = typeof item === 'number' ? item : item instanceof Float64Array ? item[0] : (item as { id?: unknown } | null)?.id;
  if (id !== i) throw new Error(`weft bench sync (${mode}): item ${i} arrived as ${JSON.stringify(item)}`);
}

async function run(): Promise<void> {
  // The port listener is added before 'ready': a MessagePort queues what came before it anyway.
  if (mode !== 'port' && mode !== 'port-echo') parentPort!.postMessage('ready');
  switch (mode) {
    case 'queue': {
      const queue = shared as Queue;
      for (let i = 0; i < count; i++) check(await queue.get(), i);
      break;
    }
    case 'queue-many': {
      // The consumer takes what is there, up to 256 at a time.
      const queue = shared as Queue;
      for (let i = 0; i < count; ) {
        for (const item of await queue.getMany(256)) check(item, i++);
      }
      break;
    }
    case 'pipe': {
      const end = shared as PipeEnd;
      for (let i = 0; i < count; i++) {
        const value = await end.recv();
        check(value, i);
        await end.send(value);
      }
      break;
    }
    case 'port':
    case 'port-echo':
      await new Promise<void>((resolve) => {
        parentPort!.postMessage('ready');
        let seen = 0;
        port.on('message', (item: unknown) => {
          try {
            check(item, seen);
          } catch (error) {
            parentPort!.postMessage({ error: (error as Error).message });
            return;
          }
          if (mode === 'port-echo') port.postMessage(item);
          if (++seen === count) resolve();
        });
      });
      port.close();
      break;
  }
  parentPort!.postMessage('done');
}

run().catch((error: Error) => parentPort!.postMessage({ error: error.message }));
