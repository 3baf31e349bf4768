/**
 * The verdicts `weft bench cluster` prints under its table: ratios between rows of the same run
 * and the issues' goals, met or not.
 *   issue 5, the embedded cluster: >= 50,000 tasks/s, median round trip <= 150 µs, pi group
 *     >= 1.6x the plain loop;
 *   issue 10, the broker-backed cluster (stated for Redis, printed for every broker): >= 3x
 *     BullMQ's jobs/s on the same server, median round trip <= 1 ms, pi group >= 1.5x the loop.
 * And what a trivial task costs in CPU on every process involved: on a machine shared with
 * other work that, not tasks/s, is the comparison that holds from run to run, and cores / cost
 * is the most the row could do here.
 */
import { availableParallelism } from 'node:os';
import type { ClusterBenchRow } from './cluster.js';

export interface ClusterGoal {
  row: string;
  goal: string;
  /** The measured figure, as printed. */
  value: string;
  met: boolean;
}

type Measured = ClusterBenchRow & Required<Pick<ClusterBenchRow, 'tasksPerSecond' | 'rttMedianUs' | 'piSpeedup'>>;

const ratio = (x: number) => `${x.toFixed(2)}x`;
/** Every process's CPU per task, the server's included, when both were read. */
const totalCpu = (r: ClusterBenchRow) => (r.cpuUsPerTask === undefined ? undefined : r.cpuUsPerTask + (r.serverCpuUsPerTask ?? 0));
const verdict = (g: ClusterGoal) => `${g.goal} (${g.value}: ${g.met ? 'met' : 'NOT met'})`;

export function clusterNotes(rows: ClusterBenchRow[]): { notes: string[]; goals: ClusterGoal[] } {
  const measured = rows.filter((r): r is Measured => r.skipped === undefined);
  const pool = measured.find((r) => r.kind === 'pool');
  const embedded = measured.find((r) => r.kind === 'embedded');
  const notes: string[] = [];
  const goals: ClusterGoal[] = [];
  if (pool && embedded) {
    notes.push(`${embedded.executor} / ThreadPool: throughput ${ratio(embedded.tasksPerSecond / pool.tasksPerSecond)}, round trip ${ratio(embedded.rttMedianUs / pool.rttMedianUs)}, pi group ${ratio(embedded.piSpeedup / pool.piSpeedup)}`);
  }
  if (embedded) {
    const mine = [
      { row: embedded.executor, goal: 'cluster >= 50,000 tasks/s', value: `${Math.round(embedded.tasksPerSecond).toLocaleString('en-US')}/s`, met: embedded.tasksPerSecond >= 50_000 },
      { row: embedded.executor, goal: 'median round trip <= 150 µs', value: `${Math.round(embedded.rttMedianUs)} µs`, met: embedded.rttMedianUs <= 150 },
      { row: embedded.executor, goal: 'pi group >= 1.6x the loop', value: ratio(embedded.piSpeedup), met: embedded.piSpeedup >= 1.6 },
    ];
    goals.push(...mine);
    notes.push(`goals (issue 5, embedded): ${mine.map(verdict).join(', ')}; workers started before timing`);
  }
  for (const broker of measured.filter((r) => r.kind === 'broker')) {
    const peer = measured.find((r) => r.kind === 'bullmq' && r.broker === broker.broker);
    if (embedded) {
      notes.push(`${broker.executor} / ${embedded.executor}: throughput ${ratio(broker.tasksPerSecond / embedded.tasksPerSecond)}, round trip ${ratio(broker.rttMedianUs / embedded.rttMedianUs)}, pi group ${ratio(broker.piSpeedup / embedded.piSpeedup)}`);
    }
    const mine: ClusterGoal[] = [];
    if (peer) {
      const times = broker.tasksPerSecond / peer.tasksPerSecond;
      mine.push({ row: broker.executor, goal: `>= 3x ${peer.executor}'s jobs/s`, value: ratio(times), met: times >= 3 });
    }
    mine.push(
      { row: broker.executor, goal: 'median round trip <= 1 ms', value: `${Math.round(broker.rttMedianUs)} µs`, met: broker.rttMedianUs <= 1000 },
      { row: broker.executor, goal: 'pi group >= 1.5x the loop', value: ratio(broker.piSpeedup), met: broker.piSpeedup >= 1.5 },
    );
    goals.push(...mine);
    notes.push(`goals (issue 10) for ${broker.executor}: ${mine.map(verdict).join(', ')}`);
    if (peer) notes.push(`${peer.executor}: round trip ${ratio(peer.rttMedianUs / broker.rttMedianUs)} ${broker.executor}'s, pi group ${ratio(peer.piSpeedup)} the loop`);
    const cost = totalCpu(broker);
    if (cost !== undefined) {
      const cores = availableParallelism();
      const peerCost = peer && totalCpu(peer);
      const server = broker.serverCpuUsPerTask === undefined ? ', the server not read' : `, the server ${Math.round(broker.serverCpuUsPerTask)}`;
      notes.push(`${broker.executor}: ${Math.round(cost)} µs of CPU per trivial task (this process and the workers ${Math.round(broker.cpuUsPerTask!)}${server}): at most ~${Math.round((cores * 1e6) / cost).toLocaleString('en-US')} tasks/s on ${cores} cores${peerCost ? `; ${peer!.executor} ${Math.round(peerCost)} µs (${ratio(peerCost / cost)} as much)` : ''}`);
    }
  }
  if (measured.some((r) => r.serverCpuUsPerTask !== undefined)) notes.push('a Redis server\'s CPU (INFO cpu) counts every client it serves: other programs using it add to the rows\' figures');
  for (const r of rows) if (r.skipped !== undefined) notes.push(`${r.executor} skipped: ${r.skipped}`);
  return { notes, goals };
}
