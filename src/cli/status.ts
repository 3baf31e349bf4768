/** `weft status --connect tcp://HOST:PORT`: the workers of a cluster, as `cluster.workers()` sees them. */
import { clusterStatus } from '../cluster/status.js';
import type { StatusReply } from '../cluster/protocol.js';
import type { ParsedArgs } from './args.js';
import { readAuthkey } from './serve.js';

export function statusHelp(): string {
  return [
    'weft status --connect tcp://HOST:PORT (--authkey-file F | WEFT_AUTHKEY=...) [--json]',
    '      prints the workers of a running ClusterExecutor and its task counters',
  ].join('\n');
}

export async function runStatus({ options }: ParsedArgs): Promise<number> {
  if (options.help) {
    console.log(statusHelp());
    return 0;
  }
  const connect = options.connect;
  if (typeof connect !== 'string') throw new Error(`--connect tcp://HOST:PORT is required\n\n${statusHelp()}`);
  const status = await clusterStatus(connect, { authkey: readAuthkey(options) });
  console.log(options.json ? JSON.stringify(status, null, 2) : formatStatus(status));
  return 0;
}

export function formatStatus(status: StatusReply, now = Date.now()): string {
  const header = ['id', 'name', 'host', 'pid', 'pool', 'capacity', 'in flight', 'completed', 'failed', 'state', 'heartbeat', 'tasks'];
  const rows = status.workers.map((w) => [
    String(w.id), w.name, w.host, String(w.pid), w.pool, String(w.capacity), String(w.inFlight), String(w.completed),
    String(w.failed), w.state, `${((now - new Date(w.lastHeartbeat).getTime()) / 1000).toFixed(1)} s ago`, w.tasks.join(' '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [
    `workers: ${status.workers.length}   queued: ${status.queued}   running: ${status.running}   completed: ${status.completed}   failed: ${status.failed}   dead letters: ${status.deadLetters}`,
    '',
    line(header),
    ...rows.map(line),
  ].join('\n');
}
