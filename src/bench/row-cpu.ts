/**
 * The CPU a row of a CPU-bound benchmark used in each run, read around the timed part
 * (harness.ts RoundMeter), so that a ratio measured on a busy machine can be told apart from
 * what the work costs:
 *
 *   this thread (/proc/thread-self) ── where the plain loop runs, and the pools' dispatch, merges
 *   this process (process.cpuUsage) ── plus worker threads and V8's GC helper threads
 *   child processes (/proc/<pid>/stat) ── process pools, the cluster's local workers, an RPC server
 *
 * With N workers on N free cores a row cannot take less wall time than its CPU seconds / N;
 * a plain loop whose CPU seconds exceed its own thread's has had part of its work (V8's
 * parallel and concurrent GC) done on another core, which N busy workers cannot get.
 * Linux only: elsewhere the meter reads nothing and the figures are left out.
 */
import type { RoundMeter } from './harness.js';
import { childPids, procSeconds, threadSeconds } from './cpu-meter.js';

interface Reading {
  thread: number | undefined;
  process: number;
  children: number | undefined;
}

/** What a run used: [this thread's CPU seconds, CPU seconds of this process and its children]. */
export type RowCpu = [main: number, total: number];

/**
 * A meter over this thread, this process and the child processes alive now (start every pool
 * first). Own figures are read last before a run and first after it, so that reading the
 * children's is not counted.
 */
export function rowCpuMeter(): RoundMeter<Reading> {
  const pids = childPids();
  const children = (): number | undefined => {
    let sum = 0;
    for (const pid of pids) {
      const seconds = procSeconds(pid);
      if (seconds === undefined) return undefined; // gone: a partial figure would flatter the row
      sum += seconds;
    }
    return sum;
  };
  const own = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1e6;
  };
  return {
    start() {
      const kids = children();
      const processSeconds = own();
      return { children: kids, process: processSeconds, thread: threadSeconds() };
    },
    stop(started) {
      const thread = threadSeconds();
      const processSeconds = own();
      const kids = children();
      if (thread === undefined || started.thread === undefined || kids === undefined || started.children === undefined) return undefined;
      return [thread - started.thread, processSeconds - started.process + kids - started.children];
    },
  };
}

/** The median of each figure over the runs that have it; undefined when none has. */
export function medianCpu(runs: readonly (number[] | undefined)[] | undefined): RowCpu | undefined {
  const read = (runs ?? []).filter((r): r is number[] => r !== undefined);
  if (read.length === 0) return undefined;
  const median = (i: number) => {
    const sorted = read.map((r) => r[i]!).sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  return [median(0), median(1)];
}
