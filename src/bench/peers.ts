/**
 * Other Node.js pools, run on the same work in the same process as weft's rows (`--peers`):
 * Piscina, Tinypool and workerpool, all devDependencies, loaded only when asked for. Each is
 * wrapped to look like an Executor for the two calls the benchmarks make (`submit`, `map`):
 * one task per message, which is how their users call them.
 */
import { fileURLToPath } from 'node:url';
import type { Executor } from '../core/executor.js';
import { registerBenchExecutor } from './executors.js';

type Run = (name: string, arg: number) => Promise<unknown>;

const PEER_WORKER = new URL('./peer-worker.js', import.meta.url);
const WORKERPOOL_WORKER = fileURLToPath(new URL('./peer-workerpool-worker.js', import.meta.url));

export const PEER_NAMES = ['piscina', 'tinypool', 'workerpool'];

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
