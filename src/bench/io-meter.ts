/**
 * What one run of a `weft bench io` row cost its processes: CPU seconds and peak RSS, read from
 * /proc (Linux; elsewhere both are undefined rather than a partial figure). The peak is the
 * kernel's high-water mark (VmHWM), reset before each run by writing 5 to clear_refs, so that a
 * run's figure is its own and not the largest since the process started.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { procSeconds as cpuSeconds } from './cpu-meter.js';

function peakRssBytes(pid: number): number | undefined {
  try {
    const kilobytes = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kilobytes === undefined ? undefined : Number(kilobytes) * 1024;
  } catch {
    return undefined;
  }
}

function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not Linux, or a kernel without it: the peak is then the process's lifetime peak.
  }
}

export interface RunCost {
  /** CPU seconds of this process (every thread) and its worker processes during the run. */
  cpuSeconds: number | undefined;
  /** The sum of each process's peak RSS during the run, in bytes. */
  peakRss: number | undefined;
}

/** Starts metering a run of this process and `workerPids`; call the result when it is over. */
export function meterRun(workerPids: number[]): () => RunCost {
  const pids = [process.pid, ...workerPids];
  for (const pid of pids) resetPeakRss(pid);
  const ownBefore = process.cpuUsage();
  const workersBefore = workerPids.map(cpuSeconds);
  return () => {
    const own = process.cpuUsage(ownBefore);
    let cpu: number | undefined = (own.user + own.system) / 1e6;
    workerPids.forEach((pid, i) => {
      const before = workersBefore[i];
      const after = cpuSeconds(pid);
      cpu = cpu === undefined || before === undefined || after === undefined ? undefined : cpu + after - before;
    });
    let rss: number | undefined = 0;
    for (const pid of pids) {
      const peak = peakRssBytes(pid);
      rss = rss === undefined || peak === undefined ? undefined : rss + peak;
    }
    return { cpuSeconds: cpu, peakRss: rss };
  };
}
