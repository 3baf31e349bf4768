// Entry script of a ThreadPool worker thread (and of Thread). See worker-runtime.ts.
import { parentPort, workerData } from 'node:worker_threads';
import '../index.js'; // registers every shareable handler (Lock, Queue, ...) in this thread
import { WorkerRuntime } from './worker-runtime.js';
import type { WorkerBoot } from './wire.js';

const port = parentPort!;
const boot = workerData as WorkerBoot;
const runtime = new WorkerRuntime((batch, transfer) => port.postMessage(batch, transfer ?? []), 'thread', new Int32Array(boot.started!));
port.on('message', (batch: unknown[]) => runtime.receive(batch));
port.postMessage([]); // ready
