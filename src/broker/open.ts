import { checkPositiveInteger, expected } from '../core/validate.js';
import { BrokerClient } from './broker-client.js';
import { MemoryTransport } from './memory.js';
import type { BrokerTransport, TransportOptions } from './transport.js';
import type { Broker } from './types.js';

export interface OpenBrokerOptions {
  /**
   * Milliseconds after which a message held unsettled by a consumer that went silent (a crashed
   * process) is delivered again, on Redis, NATS and SQS (its visibility timeout, in whole
   * seconds); RabbitMQ notices a lost consumer by itself.
   * Also `?redeliverAfter=` in the URL. @default 30000
   */
  redeliverAfter?: number;
  /** Milliseconds to wait for the server when connecting. Also `?connectTimeout=`. @default 10000 */
  connectTimeout?: number;
  /** Largest encoded body sent, in bytes (NATS lowers it to the server's max_payload). @default 67108864 (64 MiB) */
  maxMessageSize?: number;
}

const DEFAULTS: TransportOptions = { redeliverAfter: 30_000, connectTimeout: 10_000 };
const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

type OpenTransport = (url: URL, options: TransportOptions) => Promise<BrokerTransport>;

/**
 * Adapters are loaded on first use, so a program that talks to one server loads one client
 * library: scheme → [module beside this one, its factory].
 */
const adapters: Record<string, [module: string, factory: string] | OpenTransport> = {
  'redis:': ['./redis/transport.js', 'openRedisTransport'],
  'rediss:': ['./redis/transport.js', 'openRedisTransport'],
  'amqp:': ['./amqp/transport.js', 'openAmqpTransport'],
  'amqps:': ['./amqp/transport.js', 'openAmqpTransport'],
  'nats:': ['./nats/transport.js', 'openNatsTransport'],
  'sqs:': ['./sqs/transport.js', 'openSqsTransport'],
  'sqss:': ['./sqs/transport.js', 'openSqsTransport'],
  'kafka:': ['./kafka/transport.js', 'openKafkaTransport'],
  'weft:': ['./weft.js', 'openWeftTransport'],
  'memory:': async (url) => new MemoryTransport(url.host || url.pathname || 'default'),
};

/**
 * Schemes that name something that cannot be a broker, with the reason and what to use instead:
 * refusing says so plainly, where an adapter would have to pretend.
 */
const notBrokers: Record<string, string> = {
  'zmq:': zmqIsNotABroker('zmq'),
  'zmq+tcp:': zmqIsNotABroker('zmq+tcp'),
};

function zmqIsNotABroker(scheme: string): string {
  return `openBroker('${scheme}://…') is refused: ZeroMQ is a socket library, not a broker, so it cannot keep the broker contract ` +
    '(docs/brokers.md). Its PUSH/PULL and PUB/SUB sockets keep no queue on a server (a message waits in the memory of the sending ' +
    'or receiving process and is lost with it), persist nothing, and have no acknowledgement, nack or redelivery, no dead letters ' +
    'and no queue stats; a PUB drops what no SUB is connected for. Use serve()/connect() over zmq+tcp:// for request/reply over ' +
    'ZeroMQ, or a broker: amqp:// (RabbitMQ), redis://, nats:// (JetStream), weft:// (`weft broker`) or memory://';
}

async function loadAdapter(scheme: string, [module, factory]: [string, string]): Promise<OpenTransport> {
  const exports = (await import(module)) as Record<string, unknown>;
  const open = exports[factory];
  if (typeof open !== 'function') throw new TypeError(`the ${scheme.slice(0, -1)} broker adapter (${module}) has no ${factory}()`);
  return open as OpenTransport;
}

/**
 * Connects to a message broker: `redis://host:6379`, `amqp://user:pass@host:5672`,
 * `nats://host:4222`, `kafka://host:9092` (needs the kafkajs package), `sqs://host:port/prefix`
 * or `sqs://eu-west-1/prefix` (Amazon SQS or an emulator; needs `@aws-sdk/client-sqs`),
 * `weft://:authkey@host:port` (`weft broker`) or `memory://name` (inside this process).
 *
 * @example
 *   await using broker = await openBroker('amqp://guest:guest@127.0.0.1:5672');
 *   await broker.consume('squares', (message) => message.body ** 2);
 *   await broker.request('squares', 7); // 49
 */
export async function openBroker(url: string | URL, options: OpenBrokerOptions = {}): Promise<Broker> {
  const parsed = parseBrokerUrl(url);
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
  const refused = notBrokers[parsed.protocol];
  if (refused) throw new TypeError(refused);
  const adapter = adapters[parsed.protocol];
  if (!adapter) {
    throw new TypeError(expected('url', `a broker URL with one of the schemes ${Object.keys(adapters).map((s) => s.slice(0, -1)).join(', ')}`, String(url)));
  }
  const settings: TransportOptions = {
    redeliverAfter: setting(parsed, options, 'redeliverAfter'),
    connectTimeout: setting(parsed, options, 'connectTimeout'),
  };
  const maxMessageSize = options.maxMessageSize === undefined ? DEFAULT_MAX_MESSAGE_SIZE : checkPositiveInteger('maxMessageSize', options.maxMessageSize);
  const open = typeof adapter === 'function' ? adapter : await loadAdapter(parsed.protocol, adapter);
  return new BrokerClient(await open(withoutSettings(parsed), settings), maxMessageSize);
}

function parseBrokerUrl(url: string | URL): URL {
  if (url instanceof URL) return new URL(url.href);
  if (typeof url !== 'string') throw new TypeError(expected('url', 'a broker URL such as redis://127.0.0.1:6379', url));
  try {
    return new URL(url);
  } catch {
    throw new TypeError(expected('url', 'a broker URL such as redis://127.0.0.1:6379', url));
  }
}

/** An option, else the URL's query parameter of the same name, else the default. */
function setting(url: URL, options: OpenBrokerOptions, name: keyof TransportOptions): number {
  if (options[name] !== undefined) return checkPositiveInteger(name, options[name]);
  const text = url.searchParams.get(name);
  if (text === null) return DEFAULTS[name];
  return checkPositiveInteger(`${name} (in the URL)`, Number(text));
}

/** The URL a server's own client connects to: weft's query parameters (redeliverAfter, connectTimeout) removed. */
export function withoutSettings(url: URL): URL {
  const copy = new URL(url.href);
  for (const name of Object.keys(DEFAULTS)) copy.searchParams.delete(name);
  return copy;
}
