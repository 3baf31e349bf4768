// Entry script of a ThreadPool worker thread (and of Thread). See worker-runtime.ts.
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerBoot } from './wire.js';
import { runPreloads } from './preload.js';

const port = parentPort!;
const boot = workerData as WorkerBoot;
await runPreloads(boot.preload);
await import('../sync/index.js'); // registers the shareable handlers (Lock, Queue, ...); not all of weft, to start fast
const { WorkerRuntime } = await import('./worker-runtime.js');
const runtime = new WorkerRuntime((batch, transfer) => port.postMessage(batch, transfer ?? []), 'thread', new Int32Array(boot.started!));
port.on('message', (batch: unknown[]) => runtime.receive(batch));
port.postMessage([]); // ready
