// Entry script of a ThreadPool worker thread (and of Thread). See worker-runtime.ts.
// Start-up is mostly importing modules, so only the runtime is imported here: the shareable
// handlers (sync/index.js) come with the first Lock, Queue, ... sent (a LOAD record), tracing
// support with the first traced call.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { Transferable } from './transfer.js';
import type { WorkerBoot } from './wire.js';
import { WorkerRuntime } from './worker-runtime.js';

const port = parentPort!;
const boot = workerData as WorkerBoot;
// Before any task module loads; its module only when there are some (node:module costs a start).
if (boot.preload.length > 0) await (await import('./preload.js')).runPreloads(boot.preload);
const send = (batch: unknown[], transfer: Transferable[] | undefined) => port.postMessage(batch, transfer ?? []);
const poll = () => receiveMessageOnPort(port)?.message as unknown[] | undefined;
const runtime = new WorkerRuntime(send, 'thread', new Int32Array(boot.started!), undefined, poll);
port.on('message', (batch: unknown[]) => runtime.receive(batch));
// process.exit() or an uncaught error: answers computed so far still reach the pool.
process.on('exit', () => runtime.flushNow());
port.postMessage([]); // ready
