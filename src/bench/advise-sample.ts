/**
 * Times a bounded sample of one task on one executor for `weft bench advise`: calls per second,
 * and the CPU each call cost this process and the pool's child processes. How work flows:
 *
 *   launch ──submit(task, ...args)──▶ executor ──▶ inline / green / worker
 *     ▲  at most `window` in flight                      │
 *     └──── a call settles: count it, launch the next ◀──┘
 *   no new call once `items` were started or `seconds` passed; the sample ends when the calls
 *   in flight have settled (so a slow task overruns by at most one window of calls).
 *
 * CPU is read before and after: process.cpuUsage() (every thread of this process) plus
 * /proc/<pid>/stat of the pool's child processes. On Linux, schedstat also tells this thread's
 * own time on a core and how long the process's threads waited for one (run queue), so that a
 * busy machine does not make a CPU-bound task look like it waits on IO:
 * on-CPU share = CPU / (wall − run-queue wait).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Executor } from '../core/executor.js';
import type { TaskRef } from '../core/task.js';
import { sampleCpu, type CpuSample } from './cpu-meter.js';

export interface SampleLimits {
  /** Most calls in flight at once. */
  window: number;
  /** Most calls started. */
  items: number;
  /** No call is started after this many seconds. */
  seconds: number;
}

export interface Sample {
  calls: number;
  seconds: number;
  /** CPU seconds of this process and the pool's children over the sample; undefined where unreadable. */
  cpu?: number;
  /** This thread's seconds on a CPU (Linux): for a pool, what sending calls and taking answers cost the caller. */
  run?: number;
  /**
   * Seconds the process could have run: wall time minus the time its threads waited for a core
   * (Linux). Inline: CPU / runnable is near 1 for a call that computes, near 0 for one that waits.
   */
  runnable?: number;
  /** The first call that failed, as one line: the sample stops there. */
  error?: string;
}

/** Nanoseconds a thread ran, and waited for a core, so far (Linux), else undefined. */
function schedstat(path: string): { run: number; wait: number } | undefined {
  try {
    const [run, wait] = readFileSync(path, 'utf8').split(' ').map(Number);
    return Number.isFinite(run) && Number.isFinite(wait) ? { run: run!, wait: wait! } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Nanoseconds this thread ran, and all of this process's threads waited for a core. The
 * others count because this thread waits on them: on a loaded machine a garbage collection
 * stalls the main thread while its helper threads wait for a core, which would otherwise read
 * as the task sleeping on IO.
 */
function schedTimes(): { run: number; wait: number } | undefined {
  const own = schedstat('/proc/thread-self/schedstat');
  if (!own) return undefined;
  let wait = 0;
  try {
    for (const tid of readdirSync('/proc/self/task')) wait += schedstat(`/proc/self/task/${tid}/schedstat`)?.wait ?? 0;
  } catch {
    return undefined;
  }
  return { run: own.run, wait };
}

/** Runs calls until a limit is reached; resolves with how many settled, or the first error. */
function runWindow(executor: Executor, task: TaskRef, args: unknown[], limits: SampleLimits, start: number): Promise<{ calls: number; error?: string }> {
  const deadline = start + limits.seconds * 1000;
  return new Promise((resolve) => {
    let started = 0;
    let inFlight = 0;
    let calls = 0;
    let error: string | undefined;
    const launch = (): void => {
      while (error === undefined && inFlight < limits.window && started < limits.items && (started === 0 || performance.now() < deadline)) {
        started++;
        inFlight++;
        executor.submit(task, ...args).then(
          () => {
            calls++;
            settle();
          },
          (reason: unknown) => {
            error ??= reason instanceof Error ? `${reason.name}: ${reason.message}`.split('\n').join(' ') : String(reason);
            settle();
          },
        );
      }
      if (inFlight === 0) resolve(error === undefined ? { calls } : { calls, error });
    };
    const settle = (): void => {
      inFlight--;
      launch();
    };
    launch();
  });
}

/** Times `task(...args)` on `executor` within `limits`; `pids` lists the pool's child processes. */
export async function sampleExecutor(executor: Executor, task: TaskRef, args: unknown[], limits: SampleLimits, pids: () => number[] = () => []): Promise<Sample> {
  const cpuBefore: CpuSample | undefined = await sampleCpu({ pids });
  const schedBefore = schedTimes();
  const start = performance.now();
  const { calls, error } = await runWindow(executor, task, args, limits, start);
  const wall = (performance.now() - start) / 1000;
  const schedAfter = schedTimes();
  const cpuAfter = await sampleCpu({ pids });
  const sample: Sample = { calls, seconds: wall };
  if (error !== undefined) sample.error = error;
  if (cpuBefore && cpuAfter) sample.cpu = cpuAfter.clients - cpuBefore.clients;
  if (schedBefore && schedAfter) {
    sample.run = (schedAfter.run - schedBefore.run) / 1e9;
    sample.runnable = wall - (schedAfter.wait - schedBefore.wait) / 1e9;
  }
  return sample;
}
