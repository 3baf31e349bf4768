import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ClusterEvents, ClusterExecutor } from '../../src/index.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface SpawnedWorker {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `weft worker` as a separate process, the way a user on another host would. */
export function spawnWorker(connect: string, authkey: string, args: string[] = [], command: string[] = []): SpawnedWorker {
  const child = spawn(process.execPath, [...command, CLI, 'worker', '--connect', connect, ...args], {
    env: { ...process.env, WEFT_AUTHKEY: authkey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => { text += chunk; });
  child.stderr!.on('data', (chunk: Buffer) => { text += chunk; });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => text, exited };
}

/** The next `event` the cluster emits whose payload passes `accept`. */
export function nextEvent<E extends keyof ClusterEvents>(cluster: ClusterExecutor, event: E, accept: (...args: ClusterEvents[E]) => boolean = () => true): Promise<ClusterEvents[E][0]> {
  return new Promise((resolve) => {
    const listener = (...args: ClusterEvents[E]) => {
      if (!accept(...args)) return;
      cluster.off(event, listener);
      resolve(args[0]);
    };
    cluster.on(event, listener);
  });
}

export function stopWorker(worker: SpawnedWorker): Promise<number | null> {
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  return worker.exited;
}
