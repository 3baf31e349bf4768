/**
 * `weft broker --port N --authkey-file F`: runs weft's own message broker (queues in this
 * process's memory) until SIGINT or SIGTERM. Programs reach it with
 * `openBroker('weft://:AUTHKEY@HOST:PORT')`.
 */
import { serveBroker } from '../broker/weft-server.js';
import type { ParsedArgs } from './args.js';
import { closeOnSignal, readListenOptions } from './serve.js';

export function brokerHelp(): string {
  return [
    'weft broker [--port N] [--host H] (--authkey-file F | WEFT_AUTHKEY=...)',
    '      runs a message broker; clients open it with openBroker(\'weft://:AUTHKEY@HOST:PORT\')',
    '      (its queues live in memory: they do not survive the broker; for durable queues use',
    '      redis://, amqp:// or nats://)',
    '      --port N, --host H, --authkey-file F, --tls-key F --tls-cert F   as for weft serve',
  ].join('\n');
}

export async function runBroker({ options }: ParsedArgs): Promise<number> {
  if (options.help) {
    console.log(brokerHelp());
    return 0;
  }
  const listen = readListenOptions(options);
  const server = await serveBroker({
    ...listen,
    onError: (error) => console.error(`weft broker: ${error.message}`),
    onRefused: (report) => console.error(`weft broker: ${report.message}`), // at most one line per 10 s
  });
  console.log(`weft broker: listening on ${server.url} (open it with weft://:AUTHKEY@${server.url.slice('tcp://'.length)})`);
  await closeOnSignal('weft broker', server);
  return 0;
}
