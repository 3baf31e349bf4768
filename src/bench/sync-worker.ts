// The worker thread of `weft bench sync`: the consuming (or echoing) side of each mode.
import { MessageChannel, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { decodeArgs } from '../core/shareable.js';
import '../sync/index.js'; // registers the primitives' handlers in this thread
import { Pipe, type PipeEnd } from '../sync/pipe.js';
import { Queue } from '../sync/queue.js';

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

/** Values of every kind the bench sends, for the warm-up. */
const WARM_ITEMS = [1.5, { id: 1, name: 'item', tags: ['a', 'b'] }, new Float64Array(8)];
/** Rounds of the warm-up: enough for V8 to optimise the receiving code of this mode. */
const WARM_ROUNDS = 5000;

/**
 * Before 'ready', this thread moves values of every kind through a channel of its own of the
 * mode's kind, so that the clock measures the channel, not V8 compiling a fresh thread's code
 * (a port's receiving side is mostly native and needs little of that; the ring's is JavaScript).
 */
async function warmUp(): Promise<void> {
  if (mode === 'queue' || mode === 'queue-many') {
    const queue = new Queue();
    for (let i = 0; i < WARM_ROUNDS; i++) {
      for (const item of WARM_ITEMS) await queue.put(item);
      if (mode === 'queue') for (let k = 0; k < WARM_ITEMS.length; k++) await queue.get();
      else await queue.getMany(256);
    }
  } else if (mode === 'pipe') {
    const [a, b] = Pipe<number>();
    for (let i = 0; i < WARM_ROUNDS; i++) {
      await a.send(i);
      await b.send(await b.recv());
      await a.recv();
    }
  } else {
    const { port1, port2 } = new MessageChannel();
    await new Promise<void>((resolve) => {
      let seen = 0;
      port2.on('message', () => {
        if (++seen === WARM_ROUNDS * WARM_ITEMS.length) resolve();
      });
      for (let i = 0; i < WARM_ROUNDS; i++) for (const item of WARM_ITEMS) port1.postMessage(item);
    });
    port1.close();
  }
}

async function run(): Promise<void> {
  await warmUp();
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
