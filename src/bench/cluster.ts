/**
 * `weft bench cluster`: the cluster against ThreadPool in the same run, both with `workers`
 * workers (the cluster's are local worker processes joined over loopback), started before any
 * timing; with `--broker URL,...` also the broker-backed cluster on each server (its local
 * `weft worker --broker` processes, as many), and with `--peers` BullMQ on the same Redis:
 *   - trivial tasks submitted at once: tasks per second;
 *   - awaited round trips, one task at a time: median and p90 microseconds;
 *   - the articles' Celery comparison: pi as a `group` of `tasks` tasks of `samples` points,
 *     against a plain loop doing the same work (speedup).
 * The loop and the rows take turns within each repeat, the first one rotating (harness.ts's
 * round order), so a noisy neighbour hurts all alike.
 * Every answer is checked (cluster-contender.ts): a wrong one fails the run.
 * Goals, issue 5 (embedded): >= 50,000 tasks/s; median round trip <= 150 µs; pi group >= 1.6x
 * the loop. Issue 10 (on a broker, Redis): >= 3x BullMQ's jobs/s; median round trip <= 1 ms;
 * pi group >= 1.5x the loop.
 */
import { randomBytes } from 'node:crypto';
import { ClusterExecutor } from '../cluster/cluster-executor.js';
import { ThreadPool } from '../pools/thread-pool.js';
import { BROKER_URLS } from './broker.js';
import { startBrokerProcess, type BrokerProcess } from './broker-process.js';
import { openBullmqPeer } from './bullmq-peer.js';
import { openBrokerClusterRow } from './cluster-broker.js';
import { checkPi, executorContender, type ClusterContender } from './cluster-contender.js';
import { clusterNotes } from './cluster-goals.js';
import { figureChart, roundsChart, speedupChart, type TimedRow } from './chart-builders.js';
import { perTask, sampleCpu, type CpuSample } from './cpu-meter.js';
import { inRounds, progress, progressSteps, reportSpread, summarize, type BenchReport, type Cell } from './harness.js';
import { monteCarloLoop } from './tasks.js';

export interface ClusterBenchOptions {
  workers: number;
  /** Trivial tasks per throughput run. */
  trivial: number;
  /** Awaited round trips per latency run. */
  calls: number;
  /** pi: tasks in the group and samples per task. */
  tasks: number;
  samples: number;
  repeats: number;
  /** Broker names (redis, amqp, nats, memory, weft) or URLs: a broker-backed cluster row for each. */
  brokers: string[];
  /** The broker rows' queue; undefined: a fresh one per row, removed at the end. */
  queue: string | undefined;
  /** Local `weft worker --broker` processes per broker row; 0: workers started by hand on `queue`. */
  brokerWorkers: number;
  /** Tasks each cluster worker (and each BullMQ worker) runs at once. */
  concurrency: number;
  /** BullMQ next to each Redis row. */
  peers: boolean;
  /** Milliseconds the broker rows' result backend keeps outcomes. */
  resultTtl: number;
}

export const CLUSTER_DEFAULTS: ClusterBenchOptions = {
  workers: 2, trivial: 100_000, calls: 3000, tasks: 3000, samples: 4000, repeats: 3,
  brokers: [], queue: undefined, brokerWorkers: 2, concurrency: 1, peers: false, resultTtl: 60_000,
};

/** With broker rows the default sizes shrink, so one broker takes about 30–60 s in all. */
export const CLUSTER_BROKER_SIZES = { trivial: 10_000, calls: 1000 };

/** The brokers `bench all` tries (one that does not answer is a skipped row). */
export const CLUSTER_ALL_BROKERS = ['redis', 'amqp', 'nats'];

/** One row of the report, as `--json` prints it in `rows`. */
export interface ClusterBenchRow {
  executor: string;
  /** Why the row has no figures (a server that did not answer, say). */
  skipped?: string;
  /** The broker URL of a broker-backed or BullMQ row, password hidden. */
  broker?: string;
  kind: 'pool' | 'embedded' | 'broker' | 'bullmq';
  /** The queue a broker-backed or BullMQ row used. */
  queue?: string;
  tasksPerSecond?: number;
  rttMedianUs?: number;
  rttP90Us?: number;
  piSeconds?: number;
  piSpeedup?: number;
  /** CPU µs per trivial task of this process and the row's worker processes (median of the runs). */
  cpuUsPerTask?: number;
  /** The server's CPU µs per trivial task, where it tells (Redis: counts every client of the server). */
  serverCpuUsPerTask?: number;
}

interface Entry {
  row: ClusterBenchRow;
  contender?: ClusterContender;
  tput: number[];
  rtt: number[];
  pi: number[];
  cpu: CpuSample[];
}

/** A URL as a row's name: the password stays off the screen and out of --json. */
function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.href;
}

async function throughput(contender: ClusterContender, n: number): Promise<number> {
  const start = performance.now();
  await contender.trivial(n);
  return n / ((performance.now() - start) / 1000);
}

async function roundTrips(contender: ClusterContender, n: number, into?: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await contender.call(i);
    into?.push((performance.now() - start) * 1000);
  }
}

async function piGroup(contender: ClusterContender, tasks: number, samples: number): Promise<number> {
  const start = performance.now();
  const hits = await contender.piGroup(tasks, samples);
  const seconds = (performance.now() - start) / 1000;
  checkPi(contender.name, hits, tasks, samples);
  return seconds;
}

/** Broker entries as [row label, URL]: names from BROKER_URLS, or URLs (labelled by scheme unless two share one). */
function brokerTargets(brokers: string[]): [string, string][] {
  const unknown = brokers.filter((b) => !b.includes('://') && !(b in BROKER_URLS));
  if (unknown.length) throw new TypeError(`--broker: unknown ${unknown.join(', ')}; known: ${Object.keys(BROKER_URLS).join(', ')}, or a broker URL`);
  const scheme = (b: string) => (b.includes('://') ? new URL(b).protocol.slice(0, -1) : b);
  return brokers.map((b) => {
    if (!b.includes('://')) return [b, BROKER_URLS[b]!];
    const shared = brokers.filter((other) => scheme(other) === scheme(b)).length > 1;
    return [shared ? withoutPassword(b) : scheme(b), b];
  });
}

/** Starts every row into `entries` (the caller closes them, also when this throws). */
async function openRows(options: ClusterBenchOptions, entries: Entry[], startWeft: () => Promise<BrokerProcess>): Promise<void> {
  const { workers, concurrency } = options;
  const add = (row: ClusterBenchRow, contender?: ClusterContender) => entries.push({ row, contender, tput: [], rtt: [], pi: [], cpu: [] });
  const pool = new ThreadPool({ workers });
  add({ executor: `ThreadPool(${workers})`, kind: 'pool' }, executorContender(`ThreadPool(${workers})`, pool, { pids: () => [] }));
  await pool.start();
  const embedded = new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey: randomBytes(16), localWorkers: workers, localConcurrency: concurrency });
  const embeddedName = `cluster (${workers} local workers)`;
  add({ executor: embeddedName, kind: 'embedded' }, executorContender(embeddedName, embedded, { pids: () => embedded.workers().map((w) => w.pid) }));
  await embedded.start();
  const runId = randomBytes(4).toString('hex');
  for (const [label, given] of brokerTargets(options.brokers)) {
    const name = `cluster (${label})`;
    let url = given;
    try {
      if (given === BROKER_URLS.weft) url = (await startWeft()).url;
      const queue = options.queue ?? `weft-bench.${runId}.${entries.length}`;
      add({ executor: name, kind: 'broker', broker: label, queue }, await openBrokerClusterRow({
        name, url, queue, ownQueue: options.queue === undefined, workers: options.brokerWorkers, concurrency, resultTtl: options.resultTtl,
      }));
    } catch (error) {
      add({ executor: name, kind: 'broker', broker: label, skipped: (error as Error).message });
      progress(`${name} skipped: ${(error as Error).message}`);
    }
    if (!options.peers || !/^rediss?:\/\//.test(given)) continue; // BullMQ runs on Redis only
    const peerName = `bullmq (${label})`;
    const queue = `weft-bench-bullmq-${runId}-${entries.length}`;
    try {
      add({ executor: peerName, kind: 'bullmq', broker: label, queue }, await openBullmqPeer({
        name: peerName, url: given, queue, workers: options.brokerWorkers || workers, concurrency,
      }));
    } catch (error) {
      add({ executor: peerName, kind: 'bullmq', broker: label, skipped: (error as Error).message });
      progress(`${peerName} skipped: ${(error as Error).message}`);
    }
  }
}

/** This process and the workers, `+ server` where the server tells. */
function cpuCell(r: ClusterBenchRow): string | undefined {
  if (r.cpuUsPerTask === undefined) return undefined;
  const own = r.cpuUsPerTask.toFixed(0);
  return r.serverCpuUsPerTask === undefined ? own : `${own} + ${r.serverCpuUsPerTask.toFixed(0)}`;
}

export async function benchCluster(options: ClusterBenchOptions): Promise<BenchReport> {
  const { workers, tasks, samples } = options;
  let weftBroker: BrokerProcess | undefined;
  const entries: Entry[] = [];
  const loopSeconds: number[] = [];
  try {
    await openRows(options, entries, async () => (weftBroker ??= await startBrokerProcess()));
    const live = entries.filter((e) => e.contender);
    const steps = progressSteps(live.length * (options.repeats + 1));
    for (const { contender, row } of live) {
      // Warm the JIT on both sides, and the workers' pi loop (fewer through a server: slower).
      const viaServer = row.kind === 'broker' || row.kind === 'bullmq';
      steps.running(contender!.name, 'warm-up');
      await throughput(contender!, Math.min(viaServer ? 2000 : 5000, options.trivial));
      await roundTrips(contender!, Math.min(500, options.calls));
      await piGroup(contender!, Math.min(300, tasks), samples);
      steps.finished(contender!.name, 'warm-up');
    }
    const plainLoop = () => {
      const start = performance.now();
      if (monteCarloLoop(tasks, samples) <= 0) throw new Error('no hits');
      return (performance.now() - start) / 1000;
    };
    plainLoop(); // warm-up
    // The loop and the rows take turns in rounds, the first one rotating (harness.ts), so that
    // they share the machine's mood and none is always timed first.
    await inRounds(live.length + 1, { rounds: options.repeats }, async (i, r) => {
      if (i === 0) {
        loopSeconds.push(plainLoop());
        return;
      }
      const entry = live[i - 1]!;
      const contender = entry.contender!;
      steps.running(contender.name, `run ${r + 1}/${options.repeats}`);
      const before = await sampleCpu(contender.cpu);
      entry.tput.push(await throughput(contender, options.trivial));
      const cost = perTask(before, await sampleCpu(contender.cpu), options.trivial);
      if (cost) entry.cpu.push(cost);
      await roundTrips(contender, options.calls, entry.rtt);
      entry.pi.push(await piGroup(contender, tasks, samples));
      steps.finished(contender.name, `run ${r + 1}/${options.repeats}`, `${Math.round(entry.tput.at(-1)!)} tasks/s, pi group ${entry.pi.at(-1)!.toFixed(3)} s`);
    });
    steps.end();
  } finally {
    for (const { contender } of entries) await contender?.close();
    await weftBroker?.stop();
  }
  const loop = summarize(loopSeconds);
  const rows: ClusterBenchRow[] = entries.map(({ row, tput, rtt, pi, cpu }) => {
    if (row.skipped !== undefined) return row;
    rtt.sort((a, b) => a - b);
    const piMedian = summarize(pi).median;
    const servers = cpu.map((c) => c.server).filter((s): s is number => s !== undefined);
    return {
      ...row,
      tasksPerSecond: summarize(tput).median,
      rttMedianUs: rtt[rtt.length >> 1]!,
      rttP90Us: rtt[Math.floor(rtt.length * 0.9)]!,
      piSeconds: piMedian,
      piSpeedup: loop.median / piMedian,
      // Only when every run could be read: a partial median would flatter the row.
      ...(cpu.length === tput.length ? { cpuUsPerTask: summarize(cpu.map((c) => c.clients)).median } : {}),
      ...(servers.length === tput.length ? { serverCpuUsPerTask: summarize(servers).median } : {}),
    };
  });
  const { notes, goals } = clusterNotes(rows);
  const brokers = entries.filter((e) => e.row.kind === 'broker').length;
  return {
    title: `weft bench cluster: ${workers} workers${brokers ? ` (${options.brokerWorkers} per broker)` : ''}, concurrency ${options.concurrency}; ${options.trivial} trivial tasks, ${options.calls} awaited calls, pi group of ${tasks} x ${samples}; median of ${options.repeats}`,
    header: ['executor', 'tasks/s', 'CPU µs/task', 'rtt median µs', 'rtt p90 µs', 'pi group s', 'pi speedup'],
    rows: [
      ['plain loop (pi)', undefined, undefined, undefined, undefined, loop.median, '1.00x'],
      ...rows.map((r): Cell[] => r.skipped !== undefined
        ? [`${r.executor} (skipped)`, undefined, undefined, undefined, undefined, undefined, undefined]
        : [r.executor, r.tasksPerSecond, cpuCell(r), r.rttMedianUs, r.rttP90Us, r.piSeconds, `${r.piSpeedup!.toFixed(2)}x`]),
    ],
    notes,
    charts: clusterCharts(entries, rows, loopSeconds, workers),
    goals,
    // Throughput and pi group rounds (rates spread as their times do), and the loop's.
    spread: reportSpread([loopSeconds, ...entries.flatMap((e) => [e.tput, e.pi])]),
    data: { benchmark: 'cluster', options: { ...options, brokers: options.brokers.map((b) => (b.includes('://') ? withoutPassword(b) : b)) }, loopSeconds: loop.median, rows, goals },
  };
}

/** Tasks/s per run (whiskers over the runs), the median round trip, the pi group's speedup over the loop (ideal: the workers). */
function clusterCharts(entries: Entry[], rows: ClusterBenchRow[], loopSeconds: number[], workers: number) {
  const label = (r: ClusterBenchRow) => (r.skipped === undefined ? r.executor : `${r.executor} (skipped)`);
  const peer = (r: ClusterBenchRow) => r.kind === 'bullmq';
  const rounds = (values: number[]) => (values.length ? summarize(values) : undefined);
  const loop: TimedRow = { label: 'plain loop (pi)', rounds: summarize(loopSeconds), peer: true };
  return [
    roundsChart('trivial tasks submitted at once', 'tasks/s', true, entries.map((e, i) => ({ label: label(rows[i]!), rounds: rounds(e.tput), peer: peer(rows[i]!) }))),
    figureChart('awaited round trip, median', 'µs', false, rows.map((r) => ({ label: label(r), value: r.rttMedianUs, peer: peer(r) }))),
    speedupChart(`pi group: speedup over the ${loop.label}`, loop, [loop, ...entries.map((e, i) => ({ label: label(rows[i]!), rounds: rounds(e.pi), peer: peer(rows[i]!) }))], workers),
  ];
}
