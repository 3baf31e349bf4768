/**
 * The `weft bench` modes. Each entry parses its own options from the command line's values and
 * returns a report; `all` runs every entry marked `inAll`.
 */
import type { BenchReport } from './harness.js';
import { benchGreen, GREEN_DEFAULTS } from './green.js';
import { benchPi, PI_DEFAULTS } from './pi.js';
import { benchOverhead, OVERHEAD_DEFAULTS } from './overhead.js';
import { benchGrain } from './grain.js';
import { PEER_NAMES } from './peers.js';
import { benchCluster, CLUSTER_ALL_BROKERS, CLUSTER_BROKER_SIZES, CLUSTER_DEFAULTS } from './cluster.js';
import { benchRpc, RPC_DEFAULTS } from './rpc.js';
import { benchBroker, BROKER_DEFAULTS } from './broker.js';
import { benchSync, SYNC_DEFAULTS } from './sync.js';
import { benchWordcount, WORDCOUNT_DEFAULTS } from './wordcount.js';

export type BenchArgs = Record<string, string | boolean | undefined>;

/** How a mode is run: alone (`weft bench cluster`) or as part of `weft bench all`. */
export interface BenchContext {
  all: boolean;
}

export interface BenchMode {
  name: string;
  summary: string;
  /** Lines of `--help` describing its options. */
  options: string[];
  inAll: boolean;
  run(args: BenchArgs, context: BenchContext): Promise<BenchReport>;
}

const modes = new Map<string, BenchMode>();

export function registerBench(mode: BenchMode): void {
  modes.set(mode.name, mode);
}

export function benchModes(): BenchMode[] {
  return [...modes.values()];
}

export function benchMode(name: string): BenchMode | undefined {
  return modes.get(name);
}

/** A positive integer option, or the default; a clear error otherwise. */
export function intOption(args: BenchArgs, name: string, fallback: number): number {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new TypeError(`--${name} expects a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** A non-negative integer option (0 allowed), or the default. */
export function countOption(args: BenchArgs, name: string, fallback: number): number {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`--${name} expects a non-negative integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** A positive number option (fractions allowed, e.g. `--megabytes 0.2`), or the default. */
export function numberOption(args: BenchArgs, name: string, fallback: number): number {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`--${name} expects a positive number, got ${JSON.stringify(raw)}`);
  return value;
}

export function listOption(args: BenchArgs, name: string, fallback: string[]): string[] {
  const raw = args[name];
  if (raw === undefined || typeof raw !== 'string') return fallback;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

registerBench({
  name: 'pi',
  summary: "the articles' Monte Carlo pi on every executor, against a plain loop",
  options: [
    `--tasks N        tasks (default ${PI_DEFAULTS.tasks})`,
    `--samples N      random points per task (default ${PI_DEFAULTS.samples})`,
    `--workers N      workers for pools (default ${PI_DEFAULTS.workers})`,
    `--executors a,b  which executors (default ${PI_DEFAULTS.executors.join(',')})`,
    `--repeats N      measured runs (default ${PI_DEFAULTS.repeats}); --warmup N (default ${PI_DEFAULTS.warmup})`,
  ],
  inAll: true,
  run: (args) => benchPi({
    tasks: intOption(args, 'tasks', PI_DEFAULTS.tasks),
    samples: intOption(args, 'samples', PI_DEFAULTS.samples),
    workers: intOption(args, 'workers', PI_DEFAULTS.workers),
    executors: withPeers(args, listOption(args, 'executors', PI_DEFAULTS.executors)),
    repeats: intOption(args, 'repeats', PI_DEFAULTS.repeats),
    warmup: args.warmup === '0' ? 0 : intOption(args, 'warmup', PI_DEFAULTS.warmup),
  }),
});

registerBench({
  name: 'green',
  summary: 'a million pending green tasks against a bare Promise.all (time and peak RSS)',
  options: [
    `--tasks N        pending tasks (default ${GREEN_DEFAULTS.tasks})`,
    `--delay MS       timer each task awaits (default ${GREEN_DEFAULTS.delay})`,
    `--repeats N      runs of each mode, alternating (default ${GREEN_DEFAULTS.repeats})`,
  ],
  inAll: true,
  run: (args) => benchGreen({
    tasks: intOption(args, 'tasks', GREEN_DEFAULTS.tasks),
    delay: intOption(args, 'delay', GREEN_DEFAULTS.delay),
    repeats: intOption(args, 'repeats', GREEN_DEFAULTS.repeats),
  }),
});

/** `--peers` adds Piscina, Tinypool and workerpool to the executors. */
function withPeers(args: BenchArgs, executors: string[]): string[] {
  return args.peers ? [...executors, ...PEER_NAMES.filter((p) => !executors.includes(p))] : executors;
}

registerBench({
  name: 'overhead',
  summary: 'per-task overhead: trivial tasks submitted at once (tasks/s) and awaited one by one (µs)',
  options: [
    `--tasks N        tasks submitted at once (default ${OVERHEAD_DEFAULTS.tasks})`,
    `--awaited N      tasks awaited one at a time (default ${OVERHEAD_DEFAULTS.awaited})`,
    `--workers N      workers (default ${OVERHEAD_DEFAULTS.workers})`,
    `--executors a,b  which executors (default ${OVERHEAD_DEFAULTS.executors.join(',')})`,
    '--peers          also Piscina, Tinypool and workerpool (pi, overhead, grain)',
  ],
  inAll: true,
  run: (args) => benchOverhead({
    tasks: intOption(args, 'tasks', OVERHEAD_DEFAULTS.tasks),
    awaited: intOption(args, 'awaited', OVERHEAD_DEFAULTS.awaited),
    workers: intOption(args, 'workers', OVERHEAD_DEFAULTS.workers),
    executors: withPeers(args, listOption(args, 'executors', OVERHEAD_DEFAULTS.executors)),
    repeats: intOption(args, 'repeats', OVERHEAD_DEFAULTS.repeats),
    warmup: args.warmup === '0' ? 0 : intOption(args, 'warmup', OVERHEAD_DEFAULTS.warmup),
  }),
});

registerBench({
  name: 'grain',
  summary: "the articles' grain study: the same 12 M samples as 3,000 x 4,000 and as 30,000 x 400",
  options: ['--workers N, --executors a,b, --peers, --repeats N as for pi'],
  inAll: false,
  run: (args) => benchGrain({
    ...PI_DEFAULTS,
    workers: intOption(args, 'workers', PI_DEFAULTS.workers),
    executors: withPeers(args, listOption(args, 'executors', ['threads', 'threads-per-task', 'processes'])),
    repeats: intOption(args, 'repeats', PI_DEFAULTS.repeats),
    warmup: args.warmup === '0' ? 0 : intOption(args, 'warmup', PI_DEFAULTS.warmup),
  }),
});

registerBench({
  name: 'rpc',
  summary: 'RPC round trips and pipelined calls against a bare socket and JSON over TCP; over ZeroMQ against bare zeromq',
  options: [
    `--calls N        awaited round trips per run (default ${RPC_DEFAULTS.calls})`,
    `--pipelined N    calls per pipelined run (default ${RPC_DEFAULTS.pipelined})`,
    `--window N       calls in flight at once when pipelined (default ${RPC_DEFAULTS.window})`,
    `--repeats N      measured runs (default ${RPC_DEFAULTS.repeats})`,
  ],
  inAll: true,
  run: (args) => benchRpc({
    calls: intOption(args, 'calls', RPC_DEFAULTS.calls),
    pipelined: intOption(args, 'pipelined', RPC_DEFAULTS.pipelined),
    window: intOption(args, 'window', RPC_DEFAULTS.window),
    repeats: intOption(args, 'repeats', RPC_DEFAULTS.repeats),
  }),
});

registerBench({
  name: 'broker',
  summary: 'message brokers (memory, Redis, RabbitMQ, NATS JetStream on loopback, weft broker and fauxqs, an SQS emulator, in child processes): messages/s and request/reply round trip',
  options: [
    `--messages N     messages per throughput run (default ${BROKER_DEFAULTS.messages})`,
    `--calls N        awaited requests per run (default ${BROKER_DEFAULTS.calls})`,
    `--repeats N      measured runs (default ${BROKER_DEFAULTS.repeats})`,
    `--brokers a,b    which brokers, by name or URL (default ${BROKER_DEFAULTS.brokers.join(',')}); one not reachable is skipped`,
  ],
  inAll: false,
  run: (args) => benchBroker({
    messages: intOption(args, 'messages', BROKER_DEFAULTS.messages),
    calls: intOption(args, 'calls', BROKER_DEFAULTS.calls),
    repeats: intOption(args, 'repeats', BROKER_DEFAULTS.repeats),
    brokers: listOption(args, 'brokers', BROKER_DEFAULTS.brokers),
  }),
});

registerBench({
  name: 'cluster',
  summary: 'the cluster (local workers over loopback; with --broker, also on a broker) against ThreadPool (and BullMQ with --peers): trivial tasks/s, awaited round trip, the pi group',
  options: [
    `--workers N      workers of each (default ${CLUSTER_DEFAULTS.workers})`,
    `--trivial N      trivial tasks per throughput run (default ${CLUSTER_DEFAULTS.trivial}; ${CLUSTER_BROKER_SIZES.trivial} with broker rows)`,
    `--calls N        awaited calls per latency run (default ${CLUSTER_DEFAULTS.calls}; ${CLUSTER_BROKER_SIZES.calls} with broker rows)`,
    `--tasks N --samples N   the pi group (default ${CLUSTER_DEFAULTS.tasks} x ${CLUSTER_DEFAULTS.samples})`,
    `--repeats N      measured runs (default ${CLUSTER_DEFAULTS.repeats})`,
    '--broker a,b     also the broker-backed cluster on each: redis, amqp, nats, memory, weft, or URLs',
    `                 (\`bench all\`: ${CLUSTER_ALL_BROKERS.join(',')} on loopback); a server that does not answer is a skipped row`,
    '--peers          also BullMQ on each Redis (its own worker processes, the same concurrency)',
    `--concurrency N  tasks each cluster or BullMQ worker runs at once (default ${CLUSTER_DEFAULTS.concurrency})`,
    '--broker-workers N   local `weft worker --broker` processes per broker (default: --workers); 0: workers',
    '                 you started on --queue NAME (with --tasks <weft>/dist/bench/tasks.js)',
    `--result-ttl MS  how long the broker rows' results are kept (default ${CLUSTER_DEFAULTS.resultTtl})`,
  ],
  inAll: true,
  run: (args, context) => {
    const brokers = args.broker !== undefined ? listOption(args, 'broker', []) : context.all ? CLUSTER_ALL_BROKERS : CLUSTER_DEFAULTS.brokers;
    if (args.broker !== undefined && brokers.length === 0) throw new TypeError(`--broker expects broker names or URLs, got ${JSON.stringify(args.broker)}`);
    const sizes = brokers.length ? { ...CLUSTER_DEFAULTS, ...CLUSTER_BROKER_SIZES } : CLUSTER_DEFAULTS;
    const workers = intOption(args, 'workers', CLUSTER_DEFAULTS.workers);
    const brokerWorkers = countOption(args, 'broker-workers', workers);
    const queue = typeof args.queue === 'string' ? args.queue : undefined;
    if (brokerWorkers === 0 && queue === undefined) throw new TypeError('--broker-workers 0 measures workers you started: name their queue with --queue NAME');
    return benchCluster({
      workers,
      trivial: intOption(args, 'trivial', sizes.trivial),
      calls: intOption(args, 'calls', sizes.calls),
      tasks: intOption(args, 'tasks', CLUSTER_DEFAULTS.tasks),
      samples: intOption(args, 'samples', CLUSTER_DEFAULTS.samples),
      repeats: intOption(args, 'repeats', CLUSTER_DEFAULTS.repeats),
      brokers,
      queue,
      brokerWorkers,
      concurrency: intOption(args, 'concurrency', CLUSTER_DEFAULTS.concurrency),
      peers: args.peers === true,
      resultTtl: intOption(args, 'result-ttl', CLUSTER_DEFAULTS.resultTtl),
    });
  },
});

registerBench({
  name: 'sync',
  summary: "weft's shared-memory Queue and Pipe between threads, against a MessageChannel",
  options: [
    `--items N        values sent one way (default ${SYNC_DEFAULTS.items})`,
    `--trips N        awaited round trips (default ${SYNC_DEFAULTS.trips})`,
    `--repeats N      measured runs of each (default ${SYNC_DEFAULTS.repeats})`,
  ],
  inAll: false,
  run: (args) => benchSync({
    items: intOption(args, 'items', SYNC_DEFAULTS.items),
    trips: intOption(args, 'trips', SYNC_DEFAULTS.trips),
    repeats: intOption(args, 'repeats', SYNC_DEFAULTS.repeats),
  }),
});

registerBench({
  name: 'wordcount',
  summary: "the articles' word count: chunks of text counted on every executor and over RPC, merged, against a plain loop",
  options: [
    `--megabytes N    MB of generated text (default ${WORDCOUNT_DEFAULTS.megabytes})`,
    `--chunks N       chunks it is split into at line ends (default ${WORDCOUNT_DEFAULTS.chunks})`,
    `--workers N      workers for pools (default ${WORDCOUNT_DEFAULTS.workers})`,
    `--executors a,b  which executors (default ${WORDCOUNT_DEFAULTS.executors.join(',')}); an rpc row is always added`,
    `--repeats N      measured runs (default ${WORDCOUNT_DEFAULTS.repeats}); --warmup N (default ${WORDCOUNT_DEFAULTS.warmup})`,
  ],
  // About 13 s with the defaults on a 2-core machine.
  inAll: true,
  run: (args) => benchWordcount({
    megabytes: numberOption(args, 'megabytes', WORDCOUNT_DEFAULTS.megabytes),
    chunks: intOption(args, 'chunks', WORDCOUNT_DEFAULTS.chunks),
    workers: intOption(args, 'workers', WORDCOUNT_DEFAULTS.workers),
    executors: listOption(args, 'executors', WORDCOUNT_DEFAULTS.executors),
    repeats: intOption(args, 'repeats', WORDCOUNT_DEFAULTS.repeats),
    warmup: args.warmup === '0' ? 0 : intOption(args, 'warmup', WORDCOUNT_DEFAULTS.warmup),
  }),
});
