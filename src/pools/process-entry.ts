// Entry script of a ProcessPool child process (and of Process). See worker-runtime.ts.
import { writeSync } from 'node:fs';
import '../index.js'; // registers every shareable handler (Lock, Queue, ...) in this process
import { WorkerRuntime } from './worker-runtime.js';
import { createParentChannel } from '../sync/object-channel.js';

/** The pool reads this pipe when the child dies: which call was running, and why it died. */
const REPORT_FD = 4;

const sendRaw = process.send!.bind(process);
// With a callback a failed send (the pool has gone) is not an 'error' event that kills us.
const ignore = () => {};
const send = (batch: unknown[]) => {
  if (process.connected) sendRaw(batch, undefined, undefined, ignore);
};
const started = new Int32Array(1);
// Objects passed to tasks (Lock, Queue, ...) live in the parent; their proxies call it here.
const parent = createParentChannel((message) => {
  if (process.connected) sendRaw(message, undefined, undefined, ignore);
});
const runtime = new WorkerRuntime(send, 'process', started, parent.channel);
let fatal: unknown;
process.on('uncaughtExceptionMonitor', (error) => { fatal = error; });
process.on('exit', (code) => {
  const reason = fatal instanceof Error ? `${fatal.name}: ${fatal.message}` : fatal === undefined ? undefined : String(fatal);
  try {
    writeSync(REPORT_FD, JSON.stringify({ started: started[0], code, reason }));
  } catch {
    // the pool has gone; nobody to tell
  }
});
process.on('message', (message: unknown) => {
  if (!parent.handleMessage(message)) runtime.receive(message as unknown[]);
});
process.on('disconnect', () => process.exit(0));
send([]); // ready
