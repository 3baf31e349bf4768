// Entry script of a ProcessPool child process (and of Process). See worker-runtime.ts.
import { writeSync } from 'node:fs';
import '../index.js'; // registers every shareable handler (Lock, Queue, ...) in this process
import { WorkerRuntime } from './worker-runtime.js';

/** The pool reads this pipe when the child dies: which call was running, and why it died. */
const REPORT_FD = 4;

const send = process.send!.bind(process);
const started = new Int32Array(1);
const runtime = new WorkerRuntime((batch) => { send(batch); }, 'process', started);
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
process.on('message', (batch: unknown[]) => runtime.receive(batch));
process.on('disconnect', () => process.exit(0));
send([]); // ready
