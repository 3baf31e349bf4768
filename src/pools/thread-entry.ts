// Entry script of a ThreadPool worker thread (and of Thread). See worker-runtime.ts.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { Transferable } from './transfer.js';
import type { WorkerBoot } from './wire.js';
import { runPreloads } from './preload.js';

const port = parentPort!;
const boot = workerData as WorkerBoot;
await runPreloads(boot.preload);
await import('../sync/index.js'); // registers the shareable handlers (Lock, Queue, ...); not all of weft, to start fast
const { WorkerRuntime } = await import('./worker-runtime.js');
const send = (batch: unknown[], transfer: Transferable[] | undefined) => port.postMessage(batch, transfer ?? []);
const poll = () => receiveMessageOnPort(port)?.message as unknown[] | undefined;
const runtime = new WorkerRuntime(send, 'thread', new Int32Array(boot.started!), undefined, poll);
port.on('message', (batch: unknown[]) => runtime.receive(batch));
// process.exit() or an uncaught error: answers computed so far still reach the pool.
process.on('exit', () => runtime.flushNow());
port.postMessage([]); // ready
