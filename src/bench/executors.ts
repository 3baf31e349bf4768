/**
 * The executors a benchmark can run, by the name given to `--executors`. Each backend module
 * registers itself here, so adding an executor to every benchmark is one entry.
 */
import type { Executor } from '../core/executor.js';
import { randomBytes } from 'node:crypto';
import { ClusterExecutor } from '../cluster/cluster-executor.js';
import { InlineExecutor } from '../executors/inline.js';
import { GreenPool } from '../green/green-pool.js';
import { ProcessPool } from '../pools/process-pool.js';
import { ThreadPool } from '../pools/thread-pool.js';

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

// Pools are started before they are measured ("pool already started"); the harness's warm-up
// run covers the rest.
registerBenchExecutor({
  name: 'threads',
  parallel: true,
  async create(workers) {
    const pool = new ThreadPool({ workers });
    await pool.start();
    return pool;
  },
});
registerBenchExecutor({
  name: 'processes',
  parallel: true,
  async create(workers) {
    const pool = new ProcessPool({ workers });
    await pool.start();
    return pool;
  },
});

/** One task per item, as the peers send them: shows the dispatch path without map's chunking. */
class PerTaskThreadPool extends ThreadPool {
  protected override chunking(): undefined {
    return undefined;
  }
}
registerBenchExecutor({
  name: 'threads-per-task',
  parallel: true,
  async create(workers) {
    const pool = new PerTaskThreadPool({ workers });
    await pool.start();
    return pool;
  },
});

/**
 * A ThreadPool created inside every measured run, which ends with the result: what a caller
 * waits for from `new ThreadPool()` to its first answer, against `threads` (started before
 * measuring). Its shutdown, which the caller need not wait for, runs after the clock stops and
 * before the next row (settleExecutor).
 */
class ColdThreadPool {
  #closing: Promise<void> | undefined;

  constructor(readonly workers: number) {}

  async map(...args: Parameters<Executor['map']>): Promise<unknown[]> {
    await this.#closing;
    const pool = new ThreadPool({ workers: this.workers });
    try {
      return await pool.map(...args);
    } finally {
      this.#closing = pool.shutdown();
    }
  }

  /** The last run's pool has shut down. */
  async settle(): Promise<void> {
    await this.#closing;
  }

  async shutdown(): Promise<void> {
    await this.#closing;
  }
}

/** Waits for what the executor's last run left to finish off the clock (a cold pool's shutdown). */
export function settleExecutor(executor: Executor): Promise<void> | undefined {
  return executor instanceof ColdThreadPool ? executor.settle() : undefined;
}
registerBenchExecutor({
  name: 'threads-cold',
  parallel: true,
  create: (workers) => new ColdThreadPool(workers) as unknown as Executor,
});
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
