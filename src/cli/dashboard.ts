/**
 * `weft dashboard --connect tcp://HOST:PORT | --broker URL [--port 8080] [--host 127.0.0.1]`:
 * serves the live page of a running cluster until SIGINT or SIGTERM (src/dashboard/server.ts).
 */
import { serveDashboard } from '../dashboard/server.js';
import { intValue, listValue, parseCommand, stringValue, UsageError, type CommandSpec } from './command.js';
import { closeOnSignal, readAuthkey } from './listen.js';

export function dashboardHelp(): string {
  return [
    'usage: weft dashboard --connect tcp://HOST:PORT (--authkey-file F | WEFT_AUTHKEY=...) [--port 8080] [--host 127.0.0.1]',
    '       weft dashboard --broker URL [--queues a,b] [--authkey-file F] [--port 8080] [--host 127.0.0.1] [--interval MS]',
    '      a live page of the workers, queues, rates, tasks and dead letters (retry, revoke, drain where the',
    '      cluster supports them); prints its URL with the access token once (derived from the authkey;',
    '      random per start when a broker cluster is given none). Listens on 127.0.0.1 unless --host says otherwise',
  ].join('\n');
}

const spec: CommandSpec = {
  name: 'weft dashboard',
  usage: dashboardHelp,
  options: {
    connect: { type: 'string' },
    broker: { type: 'string' },
    queues: { type: 'string' },
    'authkey-file': { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    interval: { type: 'string' },
  },
};

export async function runDashboard(argv: string[]): Promise<number> {
  const { values, help } = parseCommand(spec, argv);
  if (help) {
    console.log(dashboardHelp());
    return 0;
  }
  const connect = stringValue(values, 'connect');
  const broker = stringValue(values, 'broker');
  if (connect === undefined && broker === undefined) throw new UsageError('--connect tcp://HOST:PORT or --broker URL is required', spec.usage());
  if (connect !== undefined && broker !== undefined) throw new UsageError('give --connect or --broker, not both', spec.usage());
  const host = stringValue(values, 'host');
  const common = { port: intValue(spec, values, 'port', { min: 0, max: 65535 }), host, interval: intValue(spec, values, 'interval', { min: 100 }) };
  let dashboard;
  if (broker !== undefined) {
    const hasKey = values['authkey-file'] !== undefined || Boolean(process.env.WEFT_AUTHKEY);
    dashboard = await serveDashboard({ broker, queues: listValue(values, 'queues'), authkey: hasKey ? readAuthkey(values, spec.usage) : undefined, ...common });
  } else {
    if (values.queues !== undefined) throw new UsageError('--queues goes with --broker', spec.usage());
    dashboard = await serveDashboard({ connect: connect!, authkey: readAuthkey(values, spec.usage), ...common });
  }
  if (host !== undefined && !['127.0.0.1', 'localhost', '::1'].includes(host)) {
    console.error(`weft dashboard: listening on ${host}: the page is plain HTTP, put TLS in front of it beyond a trusted network`);
  }
  console.log(`weft dashboard: ${dashboard.url}`);
  await closeOnSignal('weft dashboard', dashboard);
  return 0;
}
