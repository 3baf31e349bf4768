/**
 * `weft bench broker`: weft's message-broker adapters side by side, on the servers running on
 * loopback, with `memory://` (in this process: no server, no network) as the floor:
 *   - throughput: N small messages published (a window of them awaited at a time) while one
 *     consumer on a second connection counts them; first publish to last message consumed;
 *   - request/reply: awaited `request()` calls one after another, answered by a consumer on the
 *     second connection: median and p90 microseconds per round trip.
 * `weft` and `sqs` are servers the benchmark starts in child processes: a `weft broker`, and
 * fauxqs, an SQS emulator in JavaScript (not Amazon SQS: the row says nothing of AWS's own
 * latency or limits). `kafka` is librdkafka's mock cluster (scripts/kafka-mock-cluster.c, built
 * with cc and librdkafka-dev when missing), a test double that speaks the Kafka protocol: not a
 * production Kafka (it keeps everything in memory, and answers a fetch of an empty partition
 * only after the fetch's whole wait, which floors its round trips at about 100 ms); its row runs
 * fewer messages and requests (KAFKA_MOCK_CAP). Brokers take turns within each round, so a noisy neighbour hurts all alike. A broker whose
 * server does not answer is a row saying so, not a failure. The queues are fresh per run and
 * removed at the end through each server's own client.
 * Beside each Redis, RabbitMQ and NATS row, always, the same server's own client library used
 * bare (broker-bare.ts: ioredis, amqplib, nats.js) doing the same work in the same rounds: the
 * adapter's messages/s as a share of the bare client's, and its round trip as a multiple of the
 * client's own request/reply, are goals printed with every run (issue 12: >= 80%, <= 1.5x).
 * With `peers`, BullMQ (a peer library, not weft) on each Redis of the run, in the same rounds:
 * jobs/s (n jobs added at once, one worker process at concurrency WINDOW, done when QueueEvents
 * has heard every completion) and job round trip (queue.add, then job.waitUntilFinished):
 *
 *   publish ─▶ broker ─▶ consumer (2nd connection)      weft's rows
 *   the client's publish ─▶ broker ─▶ the client's consumer (2nd connection)      the bare rows
 *   addBulk ─▶ Redis ─▶ BullMQ worker process ─▶ QueueEvents 'completed'     the BullMQ row
 */
import { randomBytes } from 'node:crypto';
import { openBroker } from '../broker/open.js';
import { removeQueues } from '../broker/remove-queues.js';
import type { Broker, Consumer } from '../broker/types.js';
import { startBrokerProcess, startFauxqsProcess, type BrokerProcess } from './broker-process.js';
import { FETCH_WAIT_MS } from '../broker/kafka/client.js';
import { buildKafkaMock, startKafkaMock, type KafkaMock } from './kafka-mock.js';
import { openBullmqPeer } from './bullmq-peer.js';
import { bareClientFor, type BareClient } from './broker-bare.js';
import type { ClusterContender } from './cluster-contender.js';
import { figureChart, roundsChart } from './chart-builders.js';
import { measureInterleaved, percent, progress, progressSteps, reportSpread, type BenchReport, type Cell, type Goal, type Measurement } from './harness.js';

export interface BrokerBenchOptions {
  /** Messages per throughput run. */
  messages: number;
  /** Awaited request/reply round trips per run. */
  calls: number;
  repeats: number;
  /** Names from BROKER_URLS, or broker URLs (a server elsewhere; a row named by its URL). */
  brokers: string[];
  /** BullMQ beside each Redis row (`--peers`). */
  peers?: boolean;
}

/** `weft` stands for a `weft broker` that the benchmark starts in a child process. */
const WEFT_BROKER = 'weft://(a weft broker started by the benchmark)';
/** `sqs` stands for fauxqs, an SQS emulator (not Amazon SQS), that the benchmark starts in a child process. */
const SQS_EMULATOR = 'sqs://(fauxqs, an SQS emulator started by the benchmark)';
/** `kafka` stands for librdkafka's mock Kafka cluster (not a production Kafka), which the benchmark builds if needed and starts in a child process. */
const KAFKA_MOCK = 'kafka://(librdkafka\'s mock cluster started by the benchmark)';
/**
 * The kafka row's counts per run at most: the mock answers a fetch of an empty partition only
 * when the fetch's wait (100 ms) ends, so a request takes ~100 ms and 2000 of them would take
 * minutes; its rates are per second all the same.
 */
const KAFKA_MOCK_CAP = { messages: 2000, calls: 50 };

export const BROKER_URLS: Record<string, string> = {
  memory: 'memory://weft-bench',
  redis: 'redis://127.0.0.1:6379',
  amqp: 'amqp://guest:guest@127.0.0.1:5672',
  nats: 'nats://127.0.0.1:4222',
  weft: WEFT_BROKER,
  sqs: SQS_EMULATOR,
  kafka: KAFKA_MOCK,
};

export const BROKER_DEFAULTS: BrokerBenchOptions = { messages: 20_000, calls: 2000, repeats: 3, brokers: Object.keys(BROKER_URLS) };

/** Publishes awaited at once: bounded, as a real producer would, and matched by the consumer's prefetch. */
const WINDOW = 100;
/** Round trips of a weft row and of its bare row alternate in slices of this many. */
const RTT_SLICE = 100;
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
  /** Messages per throughput run and requests per round-trip run for this broker (options', or fewer: KAFKA_MOCK_CAP). */
  messages: number;
  calls: number;
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
  /** Not weft: a peer library on the same server (BullMQ), in the same rounds. */
  peer?: boolean;
  /** The peer's queue (fresh, obliterated at the end). */
  queue?: string;
  /** Not weft: the server's client library used bare, beside weft's row `beside`. */
  bare?: boolean;
  beside?: string;
  /** On weft's row: its messages/s as a share of the bare client's, its median round trip as a multiple of the bare client's. */
  vsBare?: { messagesPerSecond: number; roundTrip: number };
}

/** Goals of issue 12: an adapter moves at least this share of its bare client's messages/s... */
const BARE_THROUGHPUT_GOAL = 0.8;
/** ...and its request() takes at most this multiple of the client's own request/reply. */
const BARE_ROUND_TRIP_GOAL = 1.5;

/** A server's client library used bare, beside weft's row on that server. */
interface BareRow {
  name: string;
  beside: string;
  client?: BareClient;
  skipped?: string;
  consumed: number[];
  roundTrips: number[];
}

/** A bare client beside every weft row that has one (Redis, RabbitMQ, NATS). */
async function openBareRows(opened: OpenedBroker[], runId: string): Promise<BareRow[]> {
  const rows: BareRow[] = [];
  for (const [index, broker] of opened.entries()) {
    const open = bareClientFor(broker.url);
    if (!open) continue;
    const row: BareRow = { name: `${broker.name}, bare client`, beside: broker.name, consumed: [], roundTrips: [] };
    rows.push(row);
    try {
      row.client = await open(`weft-bench.${runId}.bare${index}`, WINDOW);
      row.name = `${broker.name}, bare ${row.client.library}`;
    } catch (error) {
      row.skipped = (error as Error).message;
      progress(`${row.name} skipped: ${row.skipped}`);
    }
  }
  return rows;
}

async function bareRoundTrips(row: BareRow, calls: number, record: boolean, first: number): Promise<void> {
  for (let i = first; i < first + calls; i++) {
    const start = performance.now();
    const answer = await row.client!.request(i);
    if (record) row.roundTrips.push((performance.now() - start) * 1000);
    if (answer !== i + 1) throw new Error(`${row.name}: request(${i}) was answered ${String(answer)}`);
  }
}

async function bareThroughput(row: BareRow, messages: number): Promise<number> {
  const consumed = await row.client!.throughput(messages, WINDOW, STALL_MS);
  row.consumed.push(consumed);
  return consumed;
}

async function closeBare(row: BareRow, url: string): Promise<void> {
  if (!row.client) return;
  await row.client.close().catch(() => undefined);
  await removeQueues(url, row.client.queues).catch((error: Error) => progress(`${row.name}: could not remove the benchmark's queues: ${error.message}`));
}

/** BullMQ on one Redis of the run: its contender (bullmq-peer.ts) and what it measured. */
interface BullmqRow {
  name: string;
  /** The weft row on the same server. */
  beside: string;
  queue: string;
  contender?: ClusterContender;
  skipped?: string;
  roundTrips: number[];
}

const bullmqName = (broker: string) => `BullMQ on ${broker}`;

/** BullMQ beside every Redis row that opened (and a skipped row beside one that did not). */
async function openBullmqRows(urls: Map<string, string>, opened: OpenedBroker[], runId: string): Promise<BullmqRow[]> {
  const rows: BullmqRow[] = [];
  for (const [name, given] of urls) {
    if (!/^rediss?:\/\//.test(given)) continue; // BullMQ runs on Redis only
    const row: BullmqRow = { name: bullmqName(name), beside: name, queue: `weft-bench-bullmq-${runId}-${rows.length}`, roundTrips: [] };
    rows.push(row);
    const broker = opened.find((b) => b.name === name);
    if (!broker) {
      row.skipped = `its Redis (${name}) was skipped`;
      continue;
    }
    try {
      // One worker process taking WINDOW jobs at once: what weft's one consumer with prefetch WINDOW does.
      row.contender = await openBullmqPeer({ name: row.name, url: broker.url, queue: row.queue, workers: 1, concurrency: WINDOW });
    } catch (error) {
      row.skipped = (error as Error).message;
      progress(`${row.name} skipped: ${row.skipped}`);
    }
  }
  return rows;
}

async function bullmqRoundTrips(row: BullmqRow, calls: number, record: boolean): Promise<void> {
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await row.contender!.call(i);
    if (record) row.roundTrips.push((performance.now() - start) * 1000);
  }
}

/** Two connections to one server, its consumers started; `queuePrefix` is fresh for each broker of each run. */
async function openPair(name: string, url: string, queuePrefix: string, counts: { messages: number; calls: number }): Promise<OpenedBroker> {
  const producer = await openBroker(url, { connectTimeout: CONNECT_TIMEOUT_MS });
  let worker: Broker | undefined;
  try {
    worker = await openBroker(url, { connectTimeout: CONNECT_TIMEOUT_MS });
    const opened: OpenedBroker = {
      name, url, producer, worker, consumers: [],
      queues: { throughput: `${queuePrefix}.throughput`, rpc: `${queuePrefix}.rpc` },
      ...counts,
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
  let stalled: ReturnType<typeof setInterval> | undefined;
  const allConsumed = new Promise<void>((resolve) => {
    // A timer checked now and then, not re-armed per message: the count is the hot path.
    let seen = -1;
    stalled = setInterval(() => (broker.received === seen ? resolve() : (seen = broker.received)), STALL_MS / 2);
    broker.onReceived = () => {
      if (broker.received >= messages) resolve();
    };
  });
  try {
    for (let start = 0; start < messages; start += WINDOW) {
      const window: Promise<void>[] = [];
      for (let i = start; i < Math.min(start + WINDOW, messages); i++) window.push(broker.producer.publish(broker.queues.throughput, { id: i, name: 'weft' }));
      await Promise.all(window);
    }
    await allConsumed;
  } finally {
    clearInterval(stalled);
    broker.onReceived = undefined;
  }
  broker.consumed.push(broker.received);
  return broker.received;
}

async function roundTripRun(broker: OpenedBroker, calls: number, record: boolean, first = 0): Promise<void> {
  for (let i = first; i < first + calls; i++) {
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
  let kafkaMock: KafkaMock | undefined;
  for (const [name, given] of urls) {
    try {
      const url = given === WEFT_BROKER ? (weftBroker ??= await startBrokerProcess()).url
        : given === SQS_EMULATOR ? (emulator ??= await startFauxqsProcess()).url
          : given === KAFKA_MOCK ? (kafkaMock ??= await startKafkaMock({ binary: buildKafkaMock() })).url
            : given;
      const counts = given === KAFKA_MOCK
        ? { messages: Math.min(options.messages, KAFKA_MOCK_CAP.messages), calls: Math.min(options.calls, KAFKA_MOCK_CAP.calls) }
        : { messages: options.messages, calls: options.calls };
      // Two entries may name one server: each gets queues of its own.
      opened.push(await openPair(name, url, `weft-bench.${runId}.${opened.length + skipped.size}`, counts));
    } catch (error) {
      skipped.set(name, (error as Error).message);
      progress(`${name} skipped: ${(error as Error).message}`);
    }
  }
  let throughputs: Measurement<number>[] = [];
  let bullmq: BullmqRow[] = [];
  let bare: BareRow[] = [];
  try {
    bare = await openBareRows(opened, runId);
    const bareOpen = bare.filter((b) => b.client);
    if (options.peers) bullmq = await openBullmqRows(urls, opened, runId);
    const peers = bullmq.filter((b) => b.contender);
    // Round trips first, as in `weft bench rpc`: a throughput run leaves garbage that the next
    // broker's latency run would pay for collecting. Run -1 warms up.
    const steps = progressSteps((options.repeats + 1) * (opened.length + peers.length));
    for (let run = -1; run < options.repeats; run++) {
      const detail = run < 0 ? 'round trips, warm-up' : `round trips, run ${run + 1}/${options.repeats}`;
      for (const broker of opened) {
        const calls = run < 0 ? Math.min(broker.calls, 500) : broker.calls;
        const bareRows = bareOpen.filter((b) => b.beside === broker.name);
        const names = [broker.name, ...bareRows.map((b) => b.name)].join(' and ');
        steps.running(names, detail);
        // A bare row's round trips alternate with weft's in slices, so that a neighbour's load
        // falls on both alike: their ratio is the figure that matters.
        for (let done = 0; done < calls; done += RTT_SLICE) {
          const slice = Math.min(RTT_SLICE, calls - done);
          await roundTripRun(broker, slice, run >= 0, done);
          for (const row of bareRows) await bareRoundTrips(row, slice, run >= 0, done);
        }
        steps.finished(names, detail);
      }
      for (const peer of peers) {
        steps.running(peer.name, detail);
        await bullmqRoundTrips(peer, run < 0 ? Math.min(options.calls, 500) : options.calls, run >= 0);
        steps.finished(peer.name, detail);
      }
    }
    steps.end();
    throughputs = await measureInterleaved([
      ...opened.map((broker) => ({ name: `${broker.name} throughput`, run: () => throughputRun(broker, broker.messages) })),
      ...bareOpen.map((row) => ({ name: `${row.name} throughput`, run: () => bareThroughput(row, options.messages) })),
      // Every job's completion is awaited and its return value checked (trivial() throws on a stall).
      ...peers.map((peer) => ({ name: `${peer.name} throughput`, run: async () => (await peer.contender!.trivial(options.messages), options.messages) })),
    ], { warmup: 1, repeats: options.repeats });
  } finally {
    for (const peer of bullmq) await peer.contender?.close();
    for (const row of bare) await closeBare(row, opened.find((b) => b.name === row.beside)!.url);
    for (const broker of opened) await closePair(broker);
    await weftBroker?.stop();
    await emulator?.stop();
    await kafkaMock?.stop();
  }
  const rows: BrokerBenchRow[] = [...urls.keys()].map((name) => {
    const reason = skipped.get(name);
    if (reason !== undefined) return { broker: name, skipped: reason };
    const index = opened.findIndex((b) => b.name === name);
    const broker = opened[index]!;
    const rtt = broker.roundTrips.sort((a, b) => a - b);
    return {
      broker: name,
      messagesPerSecond: broker.messages / throughputs[index]!.median,
      rttMedianUs: rtt[rtt.length >> 1]!,
      rttP90Us: rtt[Math.floor(rtt.length * 0.9)]!,
      consumed: broker.consumed,
    };
  });
  const measuredBare = bare.filter((b) => b.client);
  const measuredPeers = bullmq.filter((b) => b.contender);
  // Each bare row right under weft's row on the same server; the ratios on weft's row.
  for (const row of bare) {
    const at = rows.findIndex((r) => r.broker === row.beside);
    const figures = bareRowOf(row, throughputs[opened.length + measuredBare.indexOf(row)]);
    rows.splice(at + 1, 0, figures);
    const ours = rows[at]!;
    if (figures.skipped === undefined && ours.skipped === undefined) {
      ours.vsBare = { messagesPerSecond: ours.messagesPerSecond! / figures.messagesPerSecond!, roundTrip: ours.rttMedianUs! / figures.rttMedianUs! };
    }
  }
  function bareRowOf(row: BareRow, throughput: Measurement<number> | undefined): BrokerBenchRow {
    if (row.skipped !== undefined || !throughput) return { broker: row.name, bare: true, beside: row.beside, skipped: row.skipped ?? 'not measured' };
    const rtt = row.roundTrips.sort((a, b) => a - b);
    return {
      broker: row.name,
      bare: true,
      beside: row.beside,
      messagesPerSecond: options.messages / throughput.median,
      rttMedianUs: rtt[rtt.length >> 1]!,
      rttP90Us: rtt[Math.floor(rtt.length * 0.9)]!,
      consumed: row.consumed,
    };
  }
  // Each BullMQ row right under weft's row on the same Redis.
  for (const peer of bullmq) rows.splice(rows.findIndex((r) => r.broker === peer.beside) + 1, 0, peerRow(peer));
  function peerRow(peer: BullmqRow): BrokerBenchRow {
    if (peer.skipped !== undefined) return { broker: peer.name, peer: true, skipped: peer.skipped };
    const rtt = peer.roundTrips.sort((a, b) => a - b);
    return {
      broker: peer.name,
      peer: true,
      queue: peer.queue,
      messagesPerSecond: options.messages / throughputs[opened.length + measuredBare.length + measuredPeers.indexOf(peer)]!.median,
      rttMedianUs: rtt[rtt.length >> 1]!,
      rttP90Us: rtt[Math.floor(rtt.length * 0.9)]!,
    };
  }
  const weftRows = rows.filter((r) => !r.peer && !r.bare);
  const inProcess = (r: BrokerBenchRow) => urls.get(r.broker)!.startsWith('memory:');
  const memory = weftRows.find((r) => inProcess(r) && !r.skipped);
  // The Kafka mock is a test double, not a server to compare for speed: never "fastest".
  const real = weftRows.filter((r) => !inProcess(r) && !r.skipped && urls.get(r.broker) !== KAFKA_MOCK);
  const fastest = (better: (a: BrokerBenchRow, b: BrokerBenchRow) => boolean) => real.reduce<BrokerBenchRow | undefined>((best, r) => (best === undefined || better(r, best) ? r : best), undefined);
  const quickest = fastest((a, b) => a.messagesPerSecond! > b.messagesPerSecond!);
  const nearest = fastest((a, b) => a.rttMedianUs! < b.rttMedianUs!);
  const counted = (r: BrokerBenchRow) => (r.bare ? options.messages : opened.find((b) => b.name === r.broker)!.messages);
  const short = rows.filter((r) => r.consumed?.some((n) => n !== counted(r)));
  return {
    title: `weft bench broker: ${options.messages} messages (${WINDOW} publishes in flight, consumer prefetch ${WINDOW}), ${options.calls} awaited requests, median of ${options.repeats}`,
    header: ['broker', 'messages/s', 'vs memory', 'round trip µs (median)', 'p90 µs', 'msg/s vs bare', 'round trip vs bare'],
    rows: rows.map((r): Cell[] => r.skipped !== undefined
      ? [`${rowLabel(r)} (skipped)`, undefined, undefined, undefined, undefined, undefined, undefined]
      : [rowLabel(r), r.messagesPerSecond, memory ? percent(r.messagesPerSecond! / memory.messagesPerSecond!) : undefined, r.rttMedianUs, r.rttP90Us,
        r.vsBare ? percent(r.vsBare.messagesPerSecond) : undefined, r.vsBare ? `${r.vsBare.roundTrip.toFixed(2)}x` : undefined]),
    goals: bareGoals(rows),
    notes: [
      ...bareNotes(bare),
      ...(quickest ? [`fastest real broker: ${quickest.broker} for throughput (${Math.round(quickest.messagesPerSecond!).toLocaleString('en-US')} messages/s), ${nearest!.broker} for round trips (${Math.round(nearest!.rttMedianUs!)} µs median)`] : []),
      ...(emulator && !skipped.has('sqs') ? ['sqs is fauxqs, an SQS emulator in JavaScript in a child process, not Amazon SQS: AWS\'s own latency, throughput and limits are not measured'] : []),
      ...opened.filter((b) => urls.get(b.name) === KAFKA_MOCK).map((b) => `${b.name} is librdkafka's mock cluster in a child process, not a production Kafka: it keeps everything in memory and answers a fetch of an empty partition only when its ${FETCH_WAIT_MS} ms wait ends, which floors its round trip; ${b.messages} messages and ${b.calls} requests per run`),
      ...bullmqNotes(rows, bullmq),
      ...[...skipped].map(([name, reason]) => `${name} skipped: ${reason}`),
      ...bullmq.filter((b) => b.skipped !== undefined).map((b) => `${b.name} skipped: ${b.skipped}`),
      ...bare.filter((b) => b.skipped !== undefined).map((b) => `${b.name} skipped: ${b.skipped}`),
      ...short.map((r) => `${r.broker}: some runs consumed fewer than ${counted(r)} messages (${r.consumed!.join(', ')}); the consumer stalled for ${STALL_MS / 1000} s`),
    ],
    charts: brokerCharts(rows, throughputs, opened, options.messages),
    spread: reportSpread(throughputs),
    data: { benchmark: 'broker', options: { ...options, brokers: [...urls.keys()] }, rows },
  };
}

/** A peer's row says so in the table, as its bar does in the report's colours. */
const rowLabel = (r: BrokerBenchRow) => (r.peer ? `${r.broker} (peer)` : r.bare ? `  ${r.broker} (not weft)` : r.broker);

/** What each bare row does, once per run. */
function bareNotes(bare: BareRow[]): string[] {
  const clients = bare.filter((b) => b.client);
  if (clients.length === 0) return [];
  return [`bare rows: the server's client library used directly (not weft), ${WINDOW} publishes in flight, a consumer on a second connection with prefetch ${WINDOW} acking each message; `
    + `msg/s vs bare = weft's messages/s / the bare client's, round trip vs bare = weft's median request() / the client's own request/reply (${clients.map((b) => `${b.beside}: ${b.client!.roundTripIs}`).join('; ')})`];
}

/** Issue 12's goals, on every weft row that has a bare row beside it. */
function bareGoals(rows: BrokerBenchRow[]): Goal[] {
  return rows.filter((r) => r.vsBare).flatMap((r) => [
    { text: `${r.broker}: ${percent(r.vsBare!.messagesPerSecond)} of the bare client's messages/s (goal: >= ${percent(BARE_THROUGHPUT_GOAL)})`, met: r.vsBare!.messagesPerSecond >= BARE_THROUGHPUT_GOAL },
    { text: `${r.broker}: request() ${r.vsBare!.roundTrip.toFixed(2)}x the bare client's round trip (goal: <= ${BARE_ROUND_TRIP_GOAL}x)`, met: r.vsBare!.roundTrip <= BARE_ROUND_TRIP_GOAL },
  ]);
}

/** BullMQ against weft's row on the same Redis, as ratios. */
function bullmqNotes(rows: BrokerBenchRow[], bullmq: BullmqRow[]): string[] {
  const notes: string[] = [];
  for (const peer of bullmq) {
    const theirs = rows.find((r) => r.broker === peer.name && r.skipped === undefined);
    const ours = rows.find((r) => r.broker === peer.beside && !r.peer && r.skipped === undefined);
    if (!theirs || !ours) continue;
    notes.push(`${peer.name} (a peer, not weft; its jobs added at once with addBulk, one worker process at concurrency ${WINDOW}, each completion heard through QueueEvents): `
      + `its messages/s are jobs/s; weft's ${ours.broker} row has ${(ours.messagesPerSecond! / theirs.messagesPerSecond!).toFixed(2)}x its jobs/s, and ${(ours.rttMedianUs! / theirs.rttMedianUs!).toFixed(2)}x its median round trip (add + waitUntilFinished; lower is faster)`);
  }
  return notes;
}

/** Messages (or jobs) per second over the rounds, whiskers at the fastest and slowest, and the median round trip. */
function brokerCharts(rows: BrokerBenchRow[], throughputs: Measurement<number>[], opened: OpenedBroker[], peerMessages: number) {
  // throughputs are in the order they were measured: the opened brokers, the bare clients, then the peers that opened.
  const measured = (kind: 'bare' | 'peer') => rows.filter((r) => r[kind] && r.skipped === undefined).map((r) => r.broker);
  const order = [...opened.map((b) => b.name), ...measured('bare'), ...measured('peer')];
  const label = (r: BrokerBenchRow) => (r.skipped === undefined ? rowLabel(r) : `${rowLabel(r)} (skipped)`);
  const rate = (r: BrokerBenchRow) => {
    const index = order.indexOf(r.broker);
    if (r.skipped !== undefined || index < 0) return undefined;
    const n = r.peer || r.bare ? peerMessages : opened[index]!.messages;
    const t = throughputs[index]!;
    return { median: n / t.median, min: n / t.max, max: n / t.min };
  };
  return [
    roundsChart('throughput', 'messages/s', true, rows.map((r) => ({ label: label(r), rounds: rate(r), peer: r.peer === true || r.bare === true }))),
    figureChart('request/reply round trip, median', 'µs', false, rows.map((r) => ({ label: label(r), value: r.rttMedianUs, peer: r.peer === true || r.bare === true }))),
  ];
}
