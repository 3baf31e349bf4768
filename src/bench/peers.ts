/**
 * Other Node.js pools, run on the same work in the same process as weft's rows (`--peers`):
 * Piscina, Tinypool and workerpool, all devDependencies, loaded only when asked for. Each is
 * wrapped to look like an Executor for the two calls the benchmarks make (`submit`, `map`):
 * one task per message, which is how their users call them.
 *
 * weft installed from npm has none of them: `requirePeers` loads the ones a run needs before it
 * starts, and a missing one stops it with one line naming the packages to install (exit 1).
 */
import { fileURLToPath } from 'node:url';
import type { Executor } from '../core/executor.js';
import { registerBenchExecutor } from './executors.js';

type Run = (name: string, arg: number) => Promise<unknown>;

const PEER_WORKER = new URL('./peer-worker.js', import.meta.url);
const WORKERPOOL_WORKER = fileURLToPath(new URL('./peer-workerpool-worker.js', import.meta.url));

export const PEER_NAMES = ['piscina', 'tinypool', 'workerpool'];

/** A peer library the run needs is not installed: one line, no stack (main.ts prints the message). */
export class MissingPeerError extends Error {
  override name = 'MissingPeerError';
}

/**
 * Imports each package (piscina, tinypool, workerpool, bullmq) now, so that a missing one is a
 * line naming what to install before any work, not `Cannot find package` in the middle of a run.
 */
export async function requirePeers(packages: string[]): Promise<void> {
  const missing: string[] = [];
  for (const name of packages) {
    try {
      await import(name);
    } catch (error) {
      if (!notInstalled(error, name)) throw error;
      missing.push(name);
    }
  }
  if (missing.length === 0) return;
  const which = missing.length === 1 ? `${missing[0]}, which is` : `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}, which are`;
  throw new MissingPeerError(`the peer rows (--peers) need ${which} not installed here: npm install ${missing.join(' ')} (or run without --peers)`);
}

/** The package itself is absent (not one of its own imports failing, which is a real error). */
function notInstalled(error: unknown, name: string): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && typeof message === 'string' && message.includes(`'${name}'`);
}

class PeerExecutor {
  constructor(readonly run: Run, readonly close: () => Promise<unknown>) {}

  submit(task: { key: string }, arg: number): Promise<unknown> {
    return this.run(task.key, arg);
  }

  map(task: { key: string }, items: Iterable<number>): Promise<unknown[]> {
    return Promise.all(Array.from(items, (item) => this.run(task.key, item)));
  }

  async shutdown(): Promise<void> {
    await this.close();
  }
}

function peer(run: Run, close: () => Promise<unknown>): Executor {
  return new PeerExecutor(run, close) as unknown as Executor;
}

registerBenchExecutor({
  name: 'piscina',
  parallel: true,
  async create(workers) {
    const { Piscina } = await import('piscina');
    const pool = new Piscina({ filename: PEER_WORKER.href, minThreads: workers, maxThreads: workers });
    return peer((name, arg) => pool.run(arg, { name }), () => pool.destroy());
  },
});

registerBenchExecutor({
  name: 'tinypool',
  parallel: true,
  async create(workers) {
    const { Tinypool } = await import('tinypool');
    const pool = new Tinypool({ filename: PEER_WORKER.href, minThreads: workers, maxThreads: workers });
    return peer((name, arg) => pool.run(arg, { name }), () => pool.destroy());
  },
});

registerBenchExecutor({
  name: 'workerpool',
  parallel: true,
  async create(workers) {
    const workerpool = (await import('workerpool')).default;
    const pool = workerpool.pool(WORKERPOOL_WORKER, { minWorkers: workers, maxWorkers: workers, workerType: 'thread' });
    return peer((name, arg) => Promise.resolve(pool.exec(name, [arg])), async () => { await pool.terminate(); });
  },
});
