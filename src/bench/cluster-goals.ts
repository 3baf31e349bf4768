/**
 * The notes and goals `weft bench cluster` prints under its table: ratios between rows of the
 * same run, and the issues' goals with an ok / MISSED verdict each.
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
import type { Goal } from './harness.js';

/** A goal of one row; `text` is its verdict line (Goal), the other fields its parts for --json. */
export interface ClusterGoal extends Goal {
  row: string;
  goal: string;
  /** The measured figure, as printed. */
  value: string;
}

type Measured = ClusterBenchRow & Required<Pick<ClusterBenchRow, 'tasksPerSecond' | 'rttMedianUs' | 'piSpeedup'>>;

const ratio = (x: number) => `${x.toFixed(2)}x`;
/** Every process's CPU per task, the server's included, when both were read. */
const totalCpu = (r: ClusterBenchRow) => (r.cpuUsPerTask === undefined ? undefined : r.cpuUsPerTask + (r.serverCpuUsPerTask ?? 0));
/** `cluster (redis): median round trip <= 1 ms (429 µs; issue 10)`. */
function goal(row: string, text: string, value: string, met: boolean, issue: number): ClusterGoal {
  return { row, goal: text, value, met, text: `${row}: ${text} (${value}; issue ${issue})` };
}

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
    goals.push(
      goal(embedded.executor, 'cluster >= 50,000 tasks/s', `${Math.round(embedded.tasksPerSecond).toLocaleString('en-US')}/s`, embedded.tasksPerSecond >= 50_000, 5),
      goal(embedded.executor, 'median round trip <= 150 µs', `${Math.round(embedded.rttMedianUs)} µs`, embedded.rttMedianUs <= 150, 5),
      goal(embedded.executor, 'pi group >= 1.6x the loop', ratio(embedded.piSpeedup), embedded.piSpeedup >= 1.6, 5),
    );
    notes.push('workers started before timing');
  }
  for (const broker of measured.filter((r) => r.kind === 'broker')) {
    const peer = measured.find((r) => r.kind === 'bullmq' && r.broker === broker.broker);
    if (embedded) {
      notes.push(`${broker.executor} / ${embedded.executor}: throughput ${ratio(broker.tasksPerSecond / embedded.tasksPerSecond)}, round trip ${ratio(broker.rttMedianUs / embedded.rttMedianUs)}, pi group ${ratio(broker.piSpeedup / embedded.piSpeedup)}`);
    }
    if (peer) {
      const times = broker.tasksPerSecond / peer.tasksPerSecond;
      goals.push(goal(broker.executor, `>= 3x ${peer.executor}'s jobs/s`, ratio(times), times >= 3, 10));
    }
    goals.push(
      goal(broker.executor, 'median round trip <= 1 ms', `${Math.round(broker.rttMedianUs)} µs`, broker.rttMedianUs <= 1000, 10),
      goal(broker.executor, 'pi group >= 1.5x the loop', ratio(broker.piSpeedup), broker.piSpeedup >= 1.5, 10),
    );
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
