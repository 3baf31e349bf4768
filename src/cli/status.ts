/** `weft status --connect tcp://HOST:PORT`: the workers of a cluster, as `cluster.workers()` sees them. */
import type { BrokerStatus } from '../cluster/durable/status.js';
import type { StatusReply } from '../cluster/protocol.js';
import { intValue, listValue, parseCommand, stringValue, UsageError, type CommandSpec } from './command.js';
import { readAuthkey } from './listen.js';
import { table } from './table.js';

export function statusHelp(): string {
  return [
    'usage: weft status --connect tcp://HOST:PORT (--authkey-file F | WEFT_AUTHKEY=...) [--json] [--watch]',
    '      prints the workers of a running ClusterExecutor and its task counters',
    '       weft status --broker URL [--queues a,b] [--wait MS] [--json] [--watch]',
    '      the workers consuming from a broker (those that answer within --wait, default 1000 ms) and',
    '      each queue as the server counts it: waiting, running (held by workers), dead letters',
    '      --watch           redraw every --interval MS (default 2000) until Ctrl-C; off a terminal,',
    '                        print it again every interval',
  ].join('\n');
}

const spec: CommandSpec = {
  name: 'weft status',
  usage: statusHelp,
  options: {
    connect: { type: 'string' },
    broker: { type: 'string' },
    'authkey-file': { type: 'string' },
    queues: { type: 'string' },
    wait: { type: 'string' },
    json: { type: 'boolean' },
    watch: { type: 'boolean' },
    interval: { type: 'string' },
  },
};

export async function runStatus(argv: string[]): Promise<number> {
  const { values, help } = parseCommand(spec, argv);
  if (help) {
    console.log(statusHelp());
    return 0;
  }
  const connect = stringValue(values, 'connect');
  const broker = stringValue(values, 'broker');
  if (connect === undefined && broker === undefined) throw new UsageError('--connect tcp://HOST:PORT or --broker URL is required', spec.usage());
  if (connect !== undefined && broker !== undefined) throw new UsageError('give --connect or --broker, not both', spec.usage());
  if (values.interval !== undefined && !values.watch) throw new UsageError('--interval goes with --watch', spec.usage());
  const interval = intValue(spec, values, 'interval', { min: 100, fallback: 2000 })!;
  let snapshot: () => Promise<string>;
  if (broker !== undefined) {
    if (values['authkey-file'] !== undefined) throw new UsageError('--authkey-file goes with --connect (a broker URL carries its own credentials)', spec.usage());
    const wait = intValue(spec, values, 'wait');
    const queues = listValue(values, 'queues');
    snapshot = async () => {
      const { brokerStatus } = await import('../cluster/durable/status.js');
      const status = await brokerStatus(broker, { queues, wait });
      return values.json ? JSON.stringify(status, null, 2) : formatBrokerStatus(status);
    };
  } else {
    if (values.queues !== undefined || values.wait !== undefined) throw new UsageError('--queues and --wait go with --broker', spec.usage());
    const authkey = readAuthkey(values, spec.usage);
    snapshot = async () => {
      const { clusterStatus } = await import('../cluster/status.js');
      const status = await clusterStatus(connect!, { authkey });
      return values.json ? JSON.stringify(status, null, 2) : formatStatus(status);
    };
  }
  if (!values.watch) {
    console.log(await snapshot());
    return 0;
  }
  return watch(snapshot, interval);
}

/**
 * Prints `snapshot()` every `interval` ms until SIGINT or SIGTERM: redrawn in place on a terminal
 * (cursor home, clear, draw: the table does not scroll away), appended off one (a log, a pipe).
 * A failed snapshot is shown in its place and the watch goes on: the cluster may come back.
 */
async function watch(snapshot: () => Promise<string>, interval: number): Promise<number> {
  const tty = process.stdout.isTTY === true;
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = () => { stopped = true; wake?.(); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  while (!stopped) {
    let text: string;
    try {
      text = await snapshot();
    } catch (error) {
      text = `weft status: ${(error as Error).message} (trying again in ${interval} ms)`;
    }
    if (stopped) break;
    const stamp = `${new Date().toISOString()}  every ${interval} ms, Ctrl-C to stop`;
    process.stdout.write(tty ? `\x1b[H\x1b[2J${stamp}\n${text}\n` : `${stamp}\n${text}\n\n`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, interval);
      wake = () => { clearTimeout(timer); resolve(); };
    });
  }
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
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
