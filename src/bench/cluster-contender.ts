/**
 * What `weft bench cluster` measures each row through: weft's executors (ThreadPool, the
 * embedded cluster, the broker-backed cluster) and BullMQ alike. Every answer is checked, so a
 * worker that returns wrong results fails the run instead of making a fast row.
 */
import type { Executor } from '../core/executor.js';
import { group, sig } from '../core/workflows.js';
import type { CpuMeter } from './cpu-meter.js';
import benchTasks from './tasks.js';

export interface ClusterContender {
  name: string;
  /** `noop(i)` for i < n, submitted at once; resolves once every one is answered (and checked). */
  trivial(n: number): Promise<void>;
  /** One awaited `noop(i)`, checked. */
  call(i: number): Promise<void>;
  /** The pi group: `tasks` tasks of `samples` points; resolves with each task's hits. */
  piGroup(tasks: number, samples: number): Promise<number[]>;
  /** Where the row's CPU time is read (its worker processes, its server). */
  cpu: CpuMeter;
  close(): Promise<void>;
}

/** A task's answer was not what it computes: the run is void. */
export class WrongResultError extends Error {
  override readonly name = 'WrongResultError';
}

export function checkNoop(row: string, i: number, value: unknown): void {
  if (value !== i) throw new WrongResultError(`${row}: noop(${i}) returned ${JSON.stringify(value)}`);
}

/**
 * Each task's hits lie in [0, samples], and together they estimate pi within 6 standard
 * deviations of the estimate (4·sqrt(p(1-p)/N) with p = pi/4): never wrong by chance in practice,
 * always wrong for a worker that answers anything else.
 */
export function checkPi(row: string, hits: readonly unknown[], tasks: number, samples: number): void {
  if (hits.length !== tasks) throw new WrongResultError(`${row}: the pi group returned ${hits.length} results for ${tasks} tasks`);
  let total = 0;
  for (const h of hits) {
    if (typeof h !== 'number' || !Number.isInteger(h) || h < 0 || h > samples) throw new WrongResultError(`${row}: a pi task of ${samples} samples returned ${JSON.stringify(h)} hits`);
    total += h;
  }
  const n = tasks * samples;
  const p = Math.PI / 4;
  const estimate = (4 * total) / n;
  const tolerance = 6 * 4 * Math.sqrt((p * (1 - p)) / n);
  if (Math.abs(estimate - Math.PI) > tolerance) {
    throw new WrongResultError(`${row}: the pi group estimated ${estimate.toFixed(5)} from ${n} samples (more than ±${tolerance.toFixed(5)} from pi)`);
  }
}

/** A weft Executor as a row: submit, await, group() as their users call them. */
export function executorContender(name: string, executor: Executor, cpu: CpuMeter, close: () => Promise<void> = () => executor.shutdown()): ClusterContender {
  return {
    name,
    cpu,
    async trivial(n) {
      const futures = new Array<PromiseLike<number>>(n);
      for (let i = 0; i < n; i++) futures[i] = executor.submit(benchTasks.noop, i);
      const values = await Promise.all(futures);
      for (let i = 0; i < n; i++) checkNoop(name, i, values[i]);
    },
    async call(i) {
      checkNoop(name, i, await executor.submit(benchTasks.noop, i));
    },
    async piGroup(tasks, samples) {
      return group(Array.from({ length: tasks }, () => sig(benchTasks.monteCarlo, samples))).run(executor);
    },
    close,
  };
}
