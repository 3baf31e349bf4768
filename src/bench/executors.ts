/**
 * The executors a benchmark can run, by the name given to `--executors`. Each backend module
 * registers itself here, so adding an executor to every benchmark is one entry.
 */
import type { Executor } from '../core/executor.js';
import { randomBytes } from 'node:crypto';
import { ClusterExecutor } from '../cluster/cluster-executor.js';
import { InlineExecutor } from '../executors/inline.js';
import { GreenPool } from '../green/green-pool.js';

export interface BenchExecutor {
  name: string;
  /** Whether it runs CPU-bound tasks in parallel (only then do `workers` count for efficiency). */
  parallel: boolean;
  create(workers: number): Executor | Promise<Executor>;
}

const executors = new Map<string, BenchExecutor>();

export function registerBenchExecutor(executor: BenchExecutor): void {
  executors.set(executor.name, executor);
}

export function benchExecutor(name: string): BenchExecutor {
  const found = executors.get(name);
  if (!found) throw new TypeError(`unknown executor ${JSON.stringify(name)}; known: ${[...executors.keys()].join(', ')}`);
  return found;
}

export function benchExecutorNames(): string[] {
  return [...executors.keys()];
}

registerBenchExecutor({ name: 'inline', parallel: false, create: () => new InlineExecutor() });
registerBenchExecutor({ name: 'green', parallel: false, create: (workers) => new GreenPool({ size: workers }) });
registerBenchExecutor({
  name: 'cluster',
  parallel: true,
  // Local worker processes over loopback; started (and joined) before any timing.
  create: async (workers) => {
    const cluster = new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey: randomBytes(16), localWorkers: workers });
    await cluster.start();
    return cluster;
  },
});
