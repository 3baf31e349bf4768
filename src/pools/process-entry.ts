// Entry script of a ProcessPool child process (and of Process). See worker-runtime.ts.
import { writeSync } from 'node:fs';
import { serialize } from 'node:v8';
// The shareable handlers (sync/index.js) load with the first Lock, Queue, ... sent (a LOAD record).
import { createParentChannel } from '../sync/object-channel.js';
import { WorkerRuntime } from './worker-runtime.js';

/** The pool reads this pipe when the child dies: which call was running, and why it died. */
const REPORT_FD = 4;

const sendRaw = process.send!.bind(process);
// With a callback a failed send (the pool has gone) is not an 'error' event that kills us.
const ignore = () => {};
const send = (message: unknown) => {
  if (process.connected) sendRaw(message, undefined, undefined, ignore);
};
// Lock, Queue, ... arguments are proxies that call the parent through this channel.
const parent = createParentChannel(send);
const started = new Int32Array(1);
const runtime = new WorkerRuntime(send, 'process', started, parent.channel);
let fatal: unknown;
process.on('uncaughtExceptionMonitor', (error) => { fatal = error; });
process.on('exit', (code) => {
  const reason = fatal instanceof Error ? `${fatal.name}: ${fatal.message}` : fatal === undefined ? undefined : String(fatal);
  // Answers computed but not yet sent (the IPC channel cannot send from here) travel in the report.
  const outbox = runtime.takeOutbox();
  const pending = outbox.length > 0 ? safeSerialize(outbox) : undefined;
  try {
    writeSync(REPORT_FD, JSON.stringify({ started: started[0], code, reason, pending }));
  } catch {
    // the pool has gone; nobody to tell
  }
});
process.on('message', (message: unknown) => {
  if (Array.isArray(message)) runtime.receive(message);
  else parent.handleMessage(message);
});
process.on('disconnect', () => {
  parent.close();
  process.exit(0);
});
send([]); // ready

function safeSerialize(batch: unknown[]): string | undefined {
  try {
    return serialize(batch).toString('base64');
  } catch {
    return undefined; // a value that cannot be cloned: those tasks are reported lost
  }
}
