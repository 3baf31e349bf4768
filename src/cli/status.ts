/** `weft status --connect tcp://HOST:PORT`: the workers of a cluster, as `cluster.workers()` sees them. */
import { brokerStatus, type BrokerStatus } from '../cluster/durable/status.js';
import { clusterStatus } from '../cluster/status.js';
import type { StatusReply } from '../cluster/protocol.js';
import type { ParsedArgs } from './args.js';
import { readAuthkey } from './serve.js';
import { table } from './table.js';

export function statusHelp(): string {
  return [
    'weft status --connect tcp://HOST:PORT (--authkey-file F | WEFT_AUTHKEY=...) [--json]',
    '      prints the workers of a running ClusterExecutor and its task counters',
    'weft status --broker URL [--queues a,b] [--wait MS] [--json]',
    '      the workers consuming from a broker (those that answer within --wait, default 1000 ms) and',
    '      each queue as the server counts it: waiting, running (held by workers), dead letters',
  ].join('\n');
}

export async function runStatus({ options }: ParsedArgs): Promise<number> {
  if (options.help) {
    console.log(statusHelp());
    return 0;
  }
  if (typeof options.broker === 'string') {
    const wait = options.wait === undefined ? undefined : Number(options.wait);
    if (wait !== undefined && !(Number.isInteger(wait) && wait > 0)) throw new Error(`--wait expects a positive number of milliseconds, got ${JSON.stringify(options.wait)}`);
    const queues = typeof options.queues === 'string' ? options.queues.split(',').map((q) => q.trim()).filter(Boolean) : undefined;
    const status = await brokerStatus(options.broker, { queues, wait });
    console.log(options.json ? JSON.stringify(status, null, 2) : formatBrokerStatus(status));
    return 0;
  }
  const connect = options.connect;
  if (typeof connect !== 'string') throw new Error(`--connect tcp://HOST:PORT or --broker URL is required\n\n${statusHelp()}`);
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
  return [
    `workers: ${status.workers.length}   queued: ${status.queued}   running: ${status.running}   completed: ${status.completed}   failed: ${status.failed}   dead letters: ${status.deadLetters}`,
    '',
    ...table(header, rows),
  ].join('\n');
}

export function formatBrokerStatus(status: BrokerStatus, now = Date.now()): string {
  const workers = status.workers.map((w) => [
    w.name, w.host, String(w.pid), w.pool, String(w.capacity), String(w.inFlight), String(w.completed), String(w.failed),
    w.state, `${((now - w.at) / 1000).toFixed(1)} s ago`, w.queues.join(' '),
  ]);
  const queues = status.queues.map((q) => [q.queue, String(q.waiting), q.running === undefined ? '?' : String(q.running), String(q.dead), q.consumers === undefined ? '?' : String(q.consumers)]);
  return [
    `workers: ${status.workers.length}`,
    ...table(['name', 'host', 'pid', 'pool', 'capacity', 'in flight', 'completed', 'failed', 'state', 'heartbeat', 'queues'], workers),
    '',
    ...table(['queue', 'waiting', 'running', 'dead', 'consumers'], queues),
  ].join('\n');
}
