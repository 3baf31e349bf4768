/**
 * `weft broker --port N --authkey-file F`: runs weft's own message broker (queues in this
 * process's memory) until SIGINT or SIGTERM. Programs reach it with
 * `openBroker('weft://:AUTHKEY@HOST:PORT')`.
 */
import { logger } from '../log.js';
import { installLogger, LOG_OPTIONS, LOG_USAGE, parseCommand, type CommandSpec } from './command.js';
import { closeOnSignal, LISTEN_OPTIONS, readListenOptions } from './listen.js';

export function brokerHelp(): string {
  return [
    'usage: weft broker [--port N] [--host H] (--authkey-file F | WEFT_AUTHKEY=...)',
    '      runs a message broker; clients open it with openBroker(\'weft://:AUTHKEY@HOST:PORT\')',
    '      (its queues live in memory: they do not survive the broker; for durable queues use',
    '      redis://, amqp:// or nats://)',
    '      --port N, --host H, --authkey-file F, --tls-key F --tls-cert F   as for weft serve',
    LOG_USAGE,
  ].join('\n');
}

const spec: CommandSpec = { name: 'weft broker', usage: brokerHelp, options: { ...LISTEN_OPTIONS, ...LOG_OPTIONS } };

export async function runBroker(argv: string[]): Promise<number> {
  const { values, help } = parseCommand(spec, argv);
  if (help) {
    console.log(brokerHelp());
    return 0;
  }
  const listen = readListenOptions(spec, values);
  installLogger(spec, values);
  const { serveBroker } = await import('../broker/weft-server.js');
  const server = await serveBroker({
    ...listen,
    onError: (error) => logger().warn(`weft broker: ${error.message}`),
    onRefused: (report) => logger().warn(`weft broker: ${report.message}`), // at most one line per 10 s
  });
  console.log(`weft broker: listening on ${server.url} (open it with weft://:AUTHKEY@${server.url.slice('tcp://'.length)})`);
  await closeOnSignal('weft broker', server);
  return 0;
}
