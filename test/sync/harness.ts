// Starts sync scenarios (test/fixtures/sync-scenarios.ts) in raw worker threads and forked
// child processes, until the pools are there to do it.
import { Worker } from 'node:worker_threads';
import { fork, type ChildProcess } from 'node:child_process';
import { encodeArgs } from '../../src/core/shareable.js';
import { createObjectServer, RemoteError, type ObjectCallMessage, type SerializedError } from '../../src/index.js';
import type { ScenarioName } from '../fixtures/sync-scenarios.js';

type Outcome = { ok: true; value: unknown } | { ok: false; error: SerializedError };

function settle<T>(outcome: Outcome): T {
  if (!outcome.ok) throw RemoteError.fromSerialized(outcome.error);
  return outcome.value as T;
}

/** Runs `scenario` in a new worker thread; resolves with its result once the thread ends. */
export function inThread<T = unknown>(scenario: ScenarioName, ...args: unknown[]): Promise<T> {
  const worker = new Worker(new URL('../fixtures/sync-thread-worker.js', import.meta.url), {
    workerData: { scenario, args: encodeArgs(args, 'thread') },
  });
  return new Promise<T>((resolve, reject) => {
    let outcome: Outcome | undefined;
    worker.once('message', (msg: Outcome) => { outcome = msg; });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!outcome) reject(new Error(`worker thread for ${scenario} exited with code ${code} without an answer`));
      else {
        try { resolve(settle<T>(outcome)); } catch (error) { reject(error); }
      }
    });
  });
}

/** Runs `scenario` in a forked child whose primitives are served by this process. */
export function inProcess<T = unknown>(scenario: ScenarioName, ...args: unknown[]): Promise<T> {
  return startProcess<T>(scenario, args).done;
}

export interface StartedProcess<T> {
  child: ChildProcess;
  done: Promise<T>;
}

/** Like inProcess; `onServed` sees each call the child makes, once the parent has started serving it. */
export function startProcess<T = unknown>(scenario: ScenarioName, args: unknown[], onServed?: (call: ObjectCallMessage) => void): StartedProcess<T> {
  const child = fork(new URL('../fixtures/sync-process-child.js', import.meta.url), { serialization: 'advanced' });
  const objects = createObjectServer((msg) => child.send(msg));
  const done = new Promise<T>((resolve, reject) => {
    let outcome: Outcome | undefined;
    child.on('message', (msg: { t: string } & Outcome) => {
      if (objects.handleMessage(msg)) {
        onServed?.(msg as unknown as ObjectCallMessage);
        return;
      }
      if (msg.t === 'done') outcome = msg;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      objects.close();
      if (!outcome) reject(new Error(`child for ${scenario} exited (${signal ?? code}) without an answer`));
      else {
        try { resolve(settle<T>(outcome)); } catch (error) { reject(error); }
      }
    });
    child.send({ t: 'run', scenario, args: encodeArgs(args, 'process', objects.server) });
  });
  return { child, done };
}
