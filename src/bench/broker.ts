/**
 * `weft bench broker`: weft's message-broker adapters side by side, on the servers running on
 * loopback, with `memory://` (in this process: no server, no network) as the floor:
 *   - throughput: N small messages published (a window of them awaited at a time) while one
 *     consumer on a second connection counts them; first publish to last message consumed;
 *   - request/reply: awaited `request()` calls one after another, answered by a consumer on the
 *     second connection: median and p90 microseconds per round trip.
 * `weft` and `sqs` are servers the benchmark starts in child processes: a `weft broker`, and
 * fauxqs, an SQS emulator in JavaScript (not Amazon SQS: the row says nothing of AWS's own
 * latency or limits). Brokers take turns within each round, so a noisy neighbour hurts all alike. A broker whose
 * server does not answer is a row saying so, not a failure. The queues are fresh per run and
 * removed at the end through each server's own client.
 */
import { randomBytes } from 'node:crypto';
import { openBroker } from '../broker/open.js';
import { removeQueues } from '../broker/remove-queues.js';
import type { Broker, Consumer } from '../broker/types.js';
import { startBrokerProcess, startFauxqsProcess, type BrokerProcess } from './broker-process.js';
import { measureInterleaved, percent, progress, type BenchReport, type Cell, type Measurement } from './harness.js';

export interface BrokerBenchOptions {
  /** Messages per throughput run. */
  messages: number;
  /** Awaited request/reply round trips per run. */
  calls: number;
  repeats: number;
  /** Names from BROKER_URLS, or broker URLs (a server elsewhere; a row named by its URL). */
  brokers: string[];
}

/** `weft` stands for a `weft broker` that the benchmark starts in a child process. */
const WEFT_BROKER = 'weft://(a weft broker started by the benchmark)';
/** `sqs` stands for fauxqs, an SQS emulator (not Amazon SQS), that the benchmark starts in a child process. */
const SQS_EMULATOR = 'sqs://(fauxqs, an SQS emulator started by the benchmark)';

export const BROKER_URLS: Record<string, string> = {
  memory: 'memory://weft-bench',
  redis: 'redis://127.0.0.1:6379',
  amqp: 'amqp://guest:guest@127.0.0.1:5672',
  nats: 'nats://127.0.0.1:4222',
  weft: WEFT_BROKER,
  sqs: SQS_EMULATOR,
};

export const BROKER_DEFAULTS: BrokerBenchOptions = { messages: 20_000, calls: 2000, repeats: 3, brokers: Object.keys(BROKER_URLS) };

/** Publishes awaited at once: bounded, as a real producer would, and matched by the consumer's prefetch. */
const WINDOW = 100;
/** A throughput run gives up waiting once no message has arrived for this long (lost messages show as a short count). */
const STALL_MS = 10_000;
/** An unreachable server should be reported quickly, not after the default 10 s. */
const CONNECT_TIMEOUT_MS = 3000;

interface OpenedBroker {
  name: string;
  url: string;
  /** Publishes and asks. */
  producer: Broker;
  /** Consumes and answers: a second connection, as a separate process would have. */
  worker: Broker;
  consumers: Consumer[];
  queues: { throughput: string; rpc: string };
  /** The counting consumer's tally and the wake-up of the run waiting for it. */
  received: number;
  onReceived: (() => void) | undefined;
  /** Messages consumed in each throughput run, warm-up included. */
  consumed: number[];
  /** Microseconds of every measured round trip. */
  roundTrips: number[];
}

/** One row of the report, as `--json` prints it in `rows`. */
export interface BrokerBenchRow {
  broker: string;
  /** Why the broker has no figures. */
  skipped?: string;
  messagesPerSecond?: number;
  rttMedianUs?: number;
  rttP90Us?: number;
  consumed?: number[];
}

/** Two connections to one server, its consumers started; `queuePrefix` is fresh for each broker of each run. */
async function openPair(name: string, url: string, queuePrefix: string): Promise<OpenedBroker> {
  const producer = await openBroker(url, { connectTimeout: CONNECT_TIMEOUT_MS });
  let worker: Broker | undefined;
  try {
    worker = await openBroker(url, { connectTimeout: CONNECT_TIMEOUT_MS });
    const opened: OpenedBroker = {
      name, url, producer, worker, consumers: [],
      queues: { throughput: `${queuePrefix}.throughput`, rpc: `${queuePrefix}.rpc` },
      received: 0, onReceived: undefined, consumed: [], roundTrips: [],
    };
    opened.consumers.push(await worker.consume(opened.queues.throughput, () => {
      opened.received++;
      opened.onReceived?.();
    }, { prefetch: WINDOW }));
    opened.consumers.push(await worker.consume<number>(opened.queues.rpc, (message) => message.body + 1));
    return opened;
  } catch (error) {
    await worker?.close();
    await producer.close();
    throw error;
  }
}

/** Publishes `messages` bodies, WINDOW awaited at a time; resolves once all are consumed (or the consumer stalls). */
async function throughputRun(broker: OpenedBroker, messages: number): Promise<number> {
  broker.received = 0;
  let stalled: ReturnType<typeof setTimeout> | undefined;
  const allConsumed = new Promise<void>((resolve) => {
    const rearm = () => {
      clearTimeout(stalled);
      stalled = setTimeout(resolve, STALL_MS);
    };
    broker.onReceived = () => (broker.received >= messages ? resolve() : rearm());
    rearm();
  });
  try {
    for (let start = 0; start < messages; start += WINDOW) {
      const window: Promise<void>[] = [];
      for (let i = start; i < Math.min(start + WINDOW, messages); i++) window.push(broker.producer.publish(broker.queues.throughput, { id: i, name: 'weft' }));
      await Promise.all(window);
    }
    await allConsumed;
  } finally {
    clearTimeout(stalled);
    broker.onReceived = undefined;
  }
  broker.consumed.push(broker.received);
  return broker.received;
}

async function roundTripRun(broker: OpenedBroker, calls: number, record: boolean): Promise<void> {
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    const answer = await broker.producer.request<number>(broker.queues.rpc, i);
    if (record) broker.roundTrips.push((performance.now() - start) * 1000);
    if (answer !== i + 1) throw new Error(`${broker.name}: request(${i}) was answered ${String(answer)}`);
  }
}

async function closePair(broker: OpenedBroker): Promise<void> {
  for (const consumer of broker.consumers) await consumer.cancel().catch(() => undefined);
  await broker.producer.close().catch(() => undefined);
  await broker.worker.close().catch(() => undefined);
  await removeQueues(broker.url, Object.values(broker.queues)).catch((error: Error) => progress(`${broker.name}: could not remove the benchmark's queues: ${error.message}`));
}

/** A URL as a row's name: the password stays off the screen and out of --json. */
function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.href;
}

export async function benchBroker(options: BrokerBenchOptions): Promise<BenchReport> {
  const unknown = options.brokers.filter((name) => !name.includes('://') && !(name in BROKER_URLS));
  if (unknown.length) throw new TypeError(`--brokers: unknown ${unknown.join(', ')}; known: ${Object.keys(BROKER_URLS).join(', ')}, or a broker URL`);
  const urls = new Map(options.brokers.map((entry) => entry.includes('://') ? [withoutPassword(entry), entry] : [entry, BROKER_URLS[entry]!]));
  const runId = randomBytes(4).toString('hex');
  const opened: OpenedBroker[] = [];
  const skipped = new Map<string, string>();
  let weftBroker: BrokerProcess | undefined;
  let emulator: BrokerProcess | undefined;
  for (const [name, given] of urls) {
    try {
      const url = given === WEFT_BROKER ? (weftBroker ??= await startBrokerProcess()).url
        : given === SQS_EMULATOR ? (emulator ??= await startFauxqsProcess()).url
          : given;
      // Two entries may name one server: each gets queues of its own.
      opened.push(await openPair(name, url, `weft-bench.${runId}.${opened.length + skipped.size}`));
    } catch (error) {
      skipped.set(name, (error as Error).message);
      progress(`${name} skipped: ${(error as Error).message}`);
    }
  }
  let throughputs: Measurement<number>[] = [];
  try {
    // Round trips first, as in `weft bench rpc`: a throughput run leaves garbage that the next
    // broker's latency run would pay for collecting. Run -1 warms up.
    for (let run = -1; run < options.repeats; run++) {
      for (const broker of opened) await roundTripRun(broker, run < 0 ? Math.min(options.calls, 500) : options.calls, run >= 0);
      if (run >= 0) progress(`round-trip run ${run + 1} of ${options.repeats} done`);
    }
    throughputs = await measureInterleaved(
      opened.map((broker) => ({ name: `${broker.name} throughput`, run: () => throughputRun(broker, options.messages) })),
      { warmup: 1, repeats: options.repeats },
    );
  } finally {
    for (const broker of opened) await closePair(broker);
    await weftBroker?.stop();
    await emulator?.stop();
  }
  const rows: BrokerBenchRow[] = [...urls.keys()].map((name) => {
    const reason = skipped.get(name);
    if (reason !== undefined) return { broker: name, skipped: reason };
    const index = opened.findIndex((b) => b.name === name);
    const broker = opened[index]!;
    const rtt = broker.roundTrips.sort((a, b) => a - b);
    return {
      broker: name,
      messagesPerSecond: options.messages / throughputs[index]!.median,
      rttMedianUs: rtt[rtt.length >> 1]!,
      rttP90Us: rtt[Math.floor(rtt.length * 0.9)]!,
      consumed: broker.consumed,
    };
  });
  const inProcess = (r: BrokerBenchRow) => urls.get(r.broker)!.startsWith('memory:');
  const memory = rows.find((r) => inProcess(r) && !r.skipped);
  const real = rows.filter((r) => !inProcess(r) && !r.skipped);
  const fastest = (better: (a: BrokerBenchRow, b: BrokerBenchRow) => boolean) => real.reduce<BrokerBenchRow | undefined>((best, r) => (best === undefined || better(r, best) ? r : best), undefined);
  const quickest = fastest((a, b) => a.messagesPerSecond! > b.messagesPerSecond!);
  const nearest = fastest((a, b) => a.rttMedianUs! < b.rttMedianUs!);
  const short = rows.filter((r) => r.consumed?.some((n) => n !== options.messages));
  return {
    title: `weft bench broker: ${options.messages} messages (${WINDOW} publishes in flight, consumer prefetch ${WINDOW}), ${options.calls} awaited requests, median of ${options.repeats}`,
    header: ['broker', 'messages/s', 'vs memory', 'round trip µs (median)', 'p90 µs'],
    rows: rows.map((r): Cell[] => r.skipped !== undefined
      ? [`${r.broker} (skipped)`, undefined, undefined, undefined, undefined]
      : [r.broker, r.messagesPerSecond, memory ? percent(r.messagesPerSecond! / memory.messagesPerSecond!) : undefined, r.rttMedianUs, r.rttP90Us]),
    notes: [
      ...(quickest ? [`fastest real broker: ${quickest.broker} for throughput (${Math.round(quickest.messagesPerSecond!).toLocaleString('en-US')} messages/s), ${nearest!.broker} for round trips (${Math.round(nearest!.rttMedianUs!)} µs median)`] : []),
      ...(emulator && !skipped.has('sqs') ? ['sqs is fauxqs, an SQS emulator in JavaScript in a child process, not Amazon SQS: AWS\'s own latency, throughput and limits are not measured'] : []),
      ...[...skipped].map(([name, reason]) => `${name} skipped: ${reason}`),
      ...short.map((r) => `${r.broker}: some runs consumed fewer than ${options.messages} messages (${r.consumed!.join(', ')}); the consumer stalled for ${STALL_MS / 1000} s`),
    ],
    data: { benchmark: 'broker', options: { ...options, brokers: [...urls.keys()] }, rows },
  };
}
