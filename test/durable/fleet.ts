/**
 * A fleet of broker workers for the durable cluster's tests: `weft worker --broker` processes
 * (the way a user runs them on other hosts), or, for memory:// URLs, a BrokerWorker in this
 * process (a memory broker lives in one process). Each test file uses fresh queue names.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { BrokerWorker } from '../../src/cluster/durable/broker-worker.js';
import { CLI, FIXTURES } from '../cluster/helpers.js';

export const TASKS = join(FIXTURES, 'tasks.js');

export function freshQueue(label: string): string {
  return `t-${label}-${randomBytes(5).toString('hex')}`;
}

export interface FleetWorker {
  /** Resolves once it consumes. */
  ready: Promise<void>;
  pid: number;
  output(): string;
  /** SIGTERM (drain) and wait; SIGKILL if it takes longer than 10 s. */
  stop(): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
  exited: Promise<unknown>;
}

export interface FleetOptions {
  queues: string[];
  pool?: string;
  concurrency?: number;
  tasks?: string[];
  extra?: string[];
  env?: Record<string, string>;
}

/** One worker: in this process for memory://, else a child process running the CLI. */
export async function startWorker(url: string, options: FleetOptions): Promise<FleetWorker> {
  if (url.startsWith('memory:')) {
    const worker = await BrokerWorker.start({
      broker: url, queues: options.queues, tasks: options.tasks ?? [TASKS], pool: (options.pool ?? 'green') as 'green', concurrency: options.concurrency ?? 8,
    });
    const ready = worker.ready();
    return { ready, pid: process.pid, output: () => '', stop: () => worker.drain(), kill: () => void worker.close(), exited: worker.done };
  }
  const args = [CLI, 'worker', '--broker', url, '--queues', options.queues.join(','), '--pool', options.pool ?? 'green', '--concurrency', String(options.concurrency ?? 8)];
  for (const t of options.tasks ?? [TASKS]) args.push('--tasks', t);
  const child: ChildProcess = spawn(process.execPath, [...args, ...(options.extra ?? [])], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  let text = '';
  const exited = once(child, 'exit');
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      text += chunk;
      if (text.includes('weft worker: consuming ')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData); // the worker's log lines are on stderr
    void exited.then(() => reject(new Error(`the worker exited before it consumed:\n${text}`)));
    const timer = setTimeout(() => reject(new Error(`the worker did not say it consumes within 20 s:\n${text}`)), 20_000);
    timer.unref();
  });
  ready.catch(() => {});
  return {
    ready,
    pid: child.pid!,
    output: () => text,
    kill: (signal = 'SIGKILL') => void child.kill(signal),
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
}
