/**
 * The `weft bench` modes. Each entry names its flags (the strict parser's specs), reads its
 * options from the parsed values, and returns a report; `all` runs every entry marked `inAll`,
 * at the smaller sizes each entry picks when `context.all` is set.
 *
 *   argv ─► cli/bench.ts: parseCommand(common flags + mode.flags) ─► values
 *        ─► mode.prepare(values, context)   every selected mode, before any runs: bad values
 *                                           (BenchOptionError, exit 2), missing peer packages (exit 1)
 *        ─► mode.run(values, context)       ─► BenchReport ─► table, verdicts, --json, --html
 */
import type { BenchReport } from './harness.js';
import { benchGreen, GREEN_DEFAULTS, type GreenOptions } from './green.js';
import { benchPi, PI_DEFAULTS, type PiOptions } from './pi.js';
import { benchOverhead, OVERHEAD_DEFAULTS, type OverheadOptions } from './overhead.js';
import { benchGrain, GRAINS } from './grain.js';
import { PEER_NAMES, requirePeers } from './peers.js';
import { benchCluster, CLUSTER_ALL_BROKERS, CLUSTER_BROKER_SIZES, CLUSTER_DEFAULTS, type ClusterBenchOptions } from './cluster.js';
import { benchRpc, RPC_DEFAULTS, type RpcBenchOptions } from './rpc.js';
import { benchBroker, BROKER_DEFAULTS, BROKER_URLS, type BrokerBenchOptions } from './broker.js';
import { benchSync, SYNC_DEFAULTS, type SyncBenchOptions } from './sync.js';
import { benchWordcount, WORDCOUNT_DEFAULTS, type WordcountOptions } from './wordcount.js';
import { benchExecutorNames } from './executors.js';
import { BenchOptionError, countOption, intOption, listOption, numberOption, type BenchArgs } from './bench-options.js';
import { benchIo, IO_ALL_REPEATS, IO_DEFAULTS, IO_EXECUTORS, type IoOptions } from './io.js';

export { BenchOptionError, countOption, intOption, listOption, numberOption, type BenchArgs };

/** How a mode is run: alone (`weft bench cluster`) or as part of `weft bench all`. */
export interface BenchContext {
  all: boolean;
}

export interface BenchMode {
  name: string;
  summary: string;
  /** Lines of `--help` describing its options. */
  options: string[];
  /**
   * The mode's own flags for the strict parser (node:util parseArgs option specs), e.g.
   * `{ tasks: { type: 'string' }, peers: { type: 'boolean' } }`. The common flags (--json, --out,
   * --html, --quiet, --help) are the command's.
   */
  flags?: Record<string, { type: 'string' | 'boolean' }>;
  inAll: boolean;
  /**
   * Checks the values and loads what the run needs (peer libraries) before any selected mode
   * starts, so that `bench all` with a bad value or a missing package fails at once, not after
   * ten minutes. Throws BenchOptionError for a bad value.
   */
  prepare?(args: BenchArgs, context: BenchContext): void | Promise<void>;
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

/** --executors: every name known (the peers among them need --peers' packages). */
function executorsOption(args: BenchArgs, fallback: string[]): string[] {
  const executors = withPeers(args, listOption(args, 'executors', fallback));
  const known = benchExecutorNames();
  const unknown = executors.filter((e) => !known.includes(e));
  if (unknown.length) throw new BenchOptionError(`unknown executor ${unknown.map((e) => JSON.stringify(e)).join(', ')}; known: ${known.join(', ')}`);
  return executors;
}

/** `--peers` adds Piscina, Tinypool and workerpool to the executors. */
function withPeers(args: BenchArgs, executors: string[]): string[] {
  return args.peers ? [...executors, ...PEER_NAMES.filter((p) => !executors.includes(p))] : executors;
}

/** --warmup N: 0 allowed (no warm-up run). */
const warmupOption = (args: BenchArgs, fallback: number) => countOption(args, 'warmup', fallback);

/** The peer pools among the executors, loaded now: a missing one fails before anything runs. */
async function preparePeers(executors: string[]): Promise<void> {
  await requirePeers(executors.filter((e) => PEER_NAMES.includes(e)));
}

const STRING = { type: 'string' } as const;
const BOOLEAN = { type: 'boolean' } as const;

// ---------------------------------------------------------------------------------------------
// The sizes `bench all` runs each mode at (context.all), chosen so that all of them end in under
// 3 minutes on a busy 2-core machine; each report's title gives the sizes it ran.

/** The articles' 3000 x 4000 kept, fewer rounds. */
const PI_ALL: Partial<PiOptions> = { repeats: 5 };

const piOptions = (args: BenchArgs, context: BenchContext): PiOptions => {
  const defaults = context.all ? { ...PI_DEFAULTS, ...PI_ALL } : PI_DEFAULTS;
  return {
    tasks: intOption(args, 'tasks', defaults.tasks),
    samples: intOption(args, 'samples', defaults.samples),
    workers: intOption(args, 'workers', defaults.workers),
    executors: executorsOption(args, defaults.executors),
    repeats: intOption(args, 'repeats', defaults.repeats),
    warmup: warmupOption(args, defaults.warmup),
  };
};

registerBench({
  name: 'pi',
  summary: "the articles' Monte Carlo pi on every executor, against a plain loop",
  options: [
    `--tasks N        tasks (default ${PI_DEFAULTS.tasks})`,
    `--samples N      random points per task (default ${PI_DEFAULTS.samples})`,
    `--workers N      workers for pools (default ${PI_DEFAULTS.workers})`,
    `--executors a,b  which executors (default ${PI_DEFAULTS.executors.join(',')})`,
    `--repeats N      measured runs (default ${PI_DEFAULTS.repeats}); --warmup N (default ${PI_DEFAULTS.warmup})`,
    '--peers          also Piscina, Tinypool and workerpool',
  ],
  flags: { tasks: STRING, samples: STRING, workers: STRING, executors: STRING, repeats: STRING, warmup: STRING, peers: BOOLEAN },
  inAll: true,
  prepare: (args, context) => preparePeers(piOptions(args, context).executors),
  run: (args, context) => benchPi(piOptions(args, context)),
});

/** 100,000 pending tasks instead of a million: a fresh process per run, three modes, three runs. */
const GREEN_ALL: Partial<GreenOptions> = { tasks: 100_000 };

const greenOptions = (args: BenchArgs, context: BenchContext): GreenOptions => {
  const defaults = context.all ? { ...GREEN_DEFAULTS, ...GREEN_ALL } : GREEN_DEFAULTS;
  return {
    tasks: intOption(args, 'tasks', defaults.tasks),
    delay: intOption(args, 'delay', defaults.delay),
    repeats: intOption(args, 'repeats', defaults.repeats),
  };
};

registerBench({
  name: 'green',
  summary: 'a million pending green tasks against a bare Promise.all (time and peak RSS)',
  options: [
    `--tasks N        pending tasks (default ${GREEN_DEFAULTS.tasks})`,
    `--delay MS       timer each task awaits (default ${GREEN_DEFAULTS.delay})`,
    `--repeats N      runs of each mode, alternating (default ${GREEN_DEFAULTS.repeats})`,
  ],
  flags: { tasks: STRING, delay: STRING, repeats: STRING },
  inAll: true,
  prepare: (args, context) => void greenOptions(args, context),
  run: (args, context) => benchGreen(greenOptions(args, context)),
});

const OVERHEAD_ALL: Partial<OverheadOptions> = { tasks: 30_000, awaited: 3000 };

const overheadOptions = (args: BenchArgs, context: BenchContext): OverheadOptions => {
  const defaults = context.all ? { ...OVERHEAD_DEFAULTS, ...OVERHEAD_ALL } : OVERHEAD_DEFAULTS;
  return {
    tasks: intOption(args, 'tasks', defaults.tasks),
    awaited: intOption(args, 'awaited', defaults.awaited),
    workers: intOption(args, 'workers', defaults.workers),
    executors: executorsOption(args, defaults.executors),
    repeats: intOption(args, 'repeats', defaults.repeats),
    warmup: warmupOption(args, defaults.warmup),
  };
};

registerBench({
  name: 'overhead',
  summary: 'per-task overhead: trivial tasks submitted at once (tasks/s) and awaited one by one (µs)',
  options: [
    `--tasks N        tasks submitted at once (default ${OVERHEAD_DEFAULTS.tasks})`,
    `--awaited N      tasks awaited one at a time (default ${OVERHEAD_DEFAULTS.awaited})`,
    `--workers N      workers (default ${OVERHEAD_DEFAULTS.workers})`,
    `--executors a,b  which executors (default ${OVERHEAD_DEFAULTS.executors.join(',')})`,
    `--repeats N      measured bursts (default ${OVERHEAD_DEFAULTS.repeats}); --warmup N (default ${OVERHEAD_DEFAULTS.warmup})`,
    '--peers          also Piscina, Tinypool and workerpool (pi, overhead, grain)',
  ],
  flags: { tasks: STRING, awaited: STRING, workers: STRING, executors: STRING, repeats: STRING, warmup: STRING, peers: BOOLEAN },
  inAll: true,
  prepare: (args, context) => preparePeers(overheadOptions(args, context).executors),
  run: (args, context) => benchOverhead(overheadOptions(args, context)),
});

const GRAIN_DEFAULTS = { executors: ['threads', 'threads-per-task', 'processes'] };
/** The fine grain only (pi has just run the coarse one, 3000 x 4000), three rounds instead of nine. */
const GRAIN_ALL = { repeats: 3, grains: GRAINS.filter(([tasks]) => tasks !== PI_DEFAULTS.tasks) };

const grainOptions = (args: BenchArgs, context: BenchContext): PiOptions => ({
  ...PI_DEFAULTS,
  workers: intOption(args, 'workers', PI_DEFAULTS.workers),
  executors: executorsOption(args, GRAIN_DEFAULTS.executors),
  repeats: intOption(args, 'repeats', context.all ? GRAIN_ALL.repeats : PI_DEFAULTS.repeats),
  warmup: warmupOption(args, PI_DEFAULTS.warmup),
});

registerBench({
  name: 'grain',
  summary: "the articles' grain study: the same 12 M samples as 3,000 x 4,000 and as 30,000 x 400",
  options: [`--workers N, --executors a,b (default ${GRAIN_DEFAULTS.executors.join(',')}), --peers, --repeats N, --warmup N as for pi`],
  flags: { workers: STRING, executors: STRING, repeats: STRING, warmup: STRING, peers: BOOLEAN },
  inAll: true,
  prepare: (args, context) => preparePeers(grainOptions(args, context).executors),
  run: async (args, context) => {
    if (!context.all) return benchGrain(grainOptions(args, context));
    const report = await benchGrain(grainOptions(args, context), GRAIN_ALL.grains);
    report.notes.push('bench all runs the fine grain only: the coarse one (3000 x 4000) is the pi table above; `weft bench grain` runs both');
    return report;
  },
});

const RPC_ALL: Partial<RpcBenchOptions> = { calls: 2000, pipelined: 30_000, repeats: 3 };

const rpcOptions = (args: BenchArgs, context: BenchContext): RpcBenchOptions => {
  const defaults = context.all ? { ...RPC_DEFAULTS, ...RPC_ALL } : RPC_DEFAULTS;
  return {
    calls: intOption(args, 'calls', defaults.calls),
    pipelined: intOption(args, 'pipelined', defaults.pipelined),
    window: intOption(args, 'window', defaults.window),
    repeats: intOption(args, 'repeats', defaults.repeats),
  };
};

registerBench({
  name: 'rpc',
  summary: 'RPC round trips and pipelined calls against a bare socket and JSON over TCP; over ZeroMQ against bare zeromq',
  options: [
    `--calls N        awaited round trips per run (default ${RPC_DEFAULTS.calls})`,
    `--pipelined N    calls per pipelined run (default ${RPC_DEFAULTS.pipelined})`,
    `--window N       calls in flight at once when pipelined (default ${RPC_DEFAULTS.window})`,
    `--repeats N      measured runs (default ${RPC_DEFAULTS.repeats})`,
  ],
  flags: { calls: STRING, pipelined: STRING, window: STRING, repeats: STRING },
  inAll: true,
  prepare: (args, context) => void rpcOptions(args, context),
  run: (args, context) => benchRpc(rpcOptions(args, context)),
});

/**
 * Fewer messages and requests, and no kafka row: librdkafka's mock answers a request only when
 * its 100 ms fetch wait ends, so its round trips alone would take 20 s.
 */
const BROKER_ALL: Partial<BrokerBenchOptions> = { messages: 2000, calls: 100, brokers: BROKER_DEFAULTS.brokers.filter((b) => b !== 'kafka') };

/** Broker names must be known (URLs are taken as given; one that does not answer is a skipped row). */
function brokerNames(option: string, brokers: string[]): string[] {
  const unknown = brokers.filter((b) => !b.includes('://') && !(b in BROKER_URLS));
  if (unknown.length) throw new BenchOptionError(`--${option}: unknown ${unknown.join(', ')}; known: ${Object.keys(BROKER_URLS).join(', ')}, or a broker URL`);
  return brokers;
}

const brokerOptions = (args: BenchArgs, context: BenchContext): BrokerBenchOptions => {
  const defaults = context.all ? { ...BROKER_DEFAULTS, ...BROKER_ALL } : BROKER_DEFAULTS;
  return {
    messages: intOption(args, 'messages', defaults.messages),
    calls: intOption(args, 'calls', defaults.calls),
    repeats: intOption(args, 'repeats', defaults.repeats),
    brokers: brokerNames('brokers', listOption(args, 'brokers', defaults.brokers)),
    peers: args.peers === true,
  };
};

registerBench({
  name: 'broker',
  summary: 'message brokers (memory, Redis, RabbitMQ, NATS JetStream on loopback, weft broker and fauxqs, an SQS emulator, in child processes): messages/s and request/reply round trip',
  options: [
    `--messages N     messages per throughput run (default ${BROKER_DEFAULTS.messages})`,
    `--calls N        awaited requests per run (default ${BROKER_DEFAULTS.calls})`,
    `--repeats N      measured runs (default ${BROKER_DEFAULTS.repeats})`,
    `--brokers a,b    which brokers, by name or URL (default ${BROKER_DEFAULTS.brokers.join(',')}); one not reachable is skipped`,
    '--peers          also BullMQ beside each Redis (jobs/s and job round trip, in the same rounds)',
  ],
  flags: { messages: STRING, calls: STRING, repeats: STRING, brokers: STRING, peers: BOOLEAN },
  inAll: true,
  prepare: async (args, context) => {
    const options = brokerOptions(args, context);
    // BullMQ runs beside Redis rows only.
    if (options.peers && options.brokers.some((b) => /^rediss?:\/\//.test(b.includes('://') ? b : BROKER_URLS[b]!))) await requirePeers(['bullmq']);
  },
  run: async (args, context) => {
    const report = await benchBroker(brokerOptions(args, context));
    if (context.all && args.brokers === undefined) report.notes.push('bench all leaves out the kafka row (its mock answers a request only after a 100 ms fetch wait): `weft bench broker` runs it');
    return report;
  },
});

/** With the three loopback brokers, each row's runs cut to a few seconds. */
const CLUSTER_ALL = { trivial: 1000, calls: 200, tasks: 500, repeats: 3 };

const clusterOptions = (args: BenchArgs, context: BenchContext): ClusterBenchOptions => {
  const brokers = args.broker !== undefined ? brokerNames('broker', listOption(args, 'broker', [])) : context.all ? CLUSTER_ALL_BROKERS : CLUSTER_DEFAULTS.brokers;
  const sizes = { ...CLUSTER_DEFAULTS, ...(brokers.length ? CLUSTER_BROKER_SIZES : {}), ...(context.all ? CLUSTER_ALL : {}) };
  const workers = intOption(args, 'workers', sizes.workers);
  const brokerWorkers = countOption(args, 'broker-workers', workers);
  const queue = typeof args.queue === 'string' ? args.queue : undefined;
  if (brokerWorkers === 0 && queue === undefined) throw new BenchOptionError('--broker-workers 0 measures workers you started: name their queue with --queue NAME');
  return {
    workers,
    trivial: intOption(args, 'trivial', sizes.trivial),
    calls: intOption(args, 'calls', sizes.calls),
    tasks: intOption(args, 'tasks', sizes.tasks),
    samples: intOption(args, 'samples', sizes.samples),
    repeats: intOption(args, 'repeats', sizes.repeats),
    brokers,
    queue,
    brokerWorkers,
    concurrency: intOption(args, 'concurrency', sizes.concurrency),
    peers: args.peers === true,
    resultTtl: intOption(args, 'result-ttl', sizes.resultTtl),
  };
};

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
  flags: {
    workers: STRING, trivial: STRING, calls: STRING, tasks: STRING, samples: STRING, repeats: STRING, broker: STRING,
    peers: BOOLEAN, concurrency: STRING, 'broker-workers': STRING, queue: STRING, 'result-ttl': STRING,
  },
  inAll: true,
  prepare: async (args, context) => {
    const options = clusterOptions(args, context);
    // BullMQ runs beside Redis rows only.
    const redis = options.brokers.some((b) => /^rediss?:\/\//.test(b.includes('://') ? b : BROKER_URLS[b]!));
    if (options.peers && redis) await requirePeers(['bullmq']);
  },
  run: (args, context) => benchCluster(clusterOptions(args, context)),
});

const SYNC_ALL: Partial<SyncBenchOptions> = { items: 20_000, trips: 1000 };

const syncOptions = (args: BenchArgs, context: BenchContext): SyncBenchOptions => {
  const defaults = context.all ? { ...SYNC_DEFAULTS, ...SYNC_ALL } : SYNC_DEFAULTS;
  return {
    items: intOption(args, 'items', defaults.items),
    trips: intOption(args, 'trips', defaults.trips),
    repeats: intOption(args, 'repeats', defaults.repeats),
  };
};

registerBench({
  name: 'sync',
  summary: "weft's shared-memory Queue and Pipe between threads, against a MessageChannel",
  options: [
    `--items N        values sent one way (default ${SYNC_DEFAULTS.items})`,
    `--trips N        awaited round trips (default ${SYNC_DEFAULTS.trips})`,
    `--repeats N      measured runs of each (default ${SYNC_DEFAULTS.repeats})`,
  ],
  flags: { items: STRING, trips: STRING, repeats: STRING },
  inAll: true,
  prepare: (args, context) => void syncOptions(args, context),
  run: (args, context) => benchSync(syncOptions(args, context)),
});

const WORDCOUNT_ALL: Partial<WordcountOptions> = { megabytes: 4, repeats: 3 };

const wordcountOptions = (args: BenchArgs, context: BenchContext): WordcountOptions => {
  const defaults = context.all ? { ...WORDCOUNT_DEFAULTS, ...WORDCOUNT_ALL } : WORDCOUNT_DEFAULTS;
  return {
    megabytes: numberOption(args, 'megabytes', defaults.megabytes),
    chunks: intOption(args, 'chunks', defaults.chunks),
    workers: intOption(args, 'workers', defaults.workers),
    executors: executorsOption(args, defaults.executors),
    repeats: intOption(args, 'repeats', defaults.repeats),
    warmup: warmupOption(args, defaults.warmup),
  };
};

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
  flags: { megabytes: STRING, chunks: STRING, workers: STRING, executors: STRING, repeats: STRING, warmup: STRING },
  inAll: true,
  prepare: (args, context) => preparePeers(wordcountOptions(args, context).executors),
  run: (args, context) => benchWordcount(wordcountOptions(args, context)),
});

registerBench({
  name: 'io',
  summary: "the articles' IO test: GETs on a local HTTP server on every executor, against bare http.Agent and fetch clients with p-limit",
  options: [
    `--requests N     GETs per run (default ${IO_DEFAULTS.requests}); --inline-requests N for the one-at-a-time inline row (default ${IO_DEFAULTS.inlineRequests})`,
    `--latency MS     how long the server waits before each answer (default ${IO_DEFAULTS.latency}; 0 allowed)`,
    `--concurrency N  requests in flight: GreenPool size, p-limit, split over workers (default ${IO_DEFAULTS.concurrency})`,
    `--workers N      workers of threads, processes and the cluster (default ${IO_DEFAULTS.workers})`,
    '--server child|inline   the server in a process of its own (default), or in each client\'s process',
    `--executors a,b  which executors (default ${IO_EXECUTORS.join(',')}); the bare clients always run`,
    `--repeats N      measured rounds (default ${IO_DEFAULTS.repeats}; ${IO_ALL_REPEATS} in \`bench all\`); --warmup N (default ${IO_DEFAULTS.warmup})`,
  ],
  flags: {
    requests: { type: 'string' },
    'inline-requests': { type: 'string' },
    latency: { type: 'string' },
    concurrency: { type: 'string' },
    workers: { type: 'string' },
    server: { type: 'string' },
    executors: { type: 'string' },
    repeats: { type: 'string' },
    warmup: { type: 'string' },
  },
  inAll: true,
  prepare: (args, context) => void ioOptions(args, context),
  run: (args, context) => benchIo(ioOptions(args, context)),
});

function ioOptions(args: BenchArgs, context: BenchContext): IoOptions {
  const server = args.server ?? IO_DEFAULTS.server;
  if (server !== 'child' && server !== 'inline') throw new BenchOptionError(`--server expects child or inline, got ${JSON.stringify(server)}`);
  const executors = listOption(args, 'executors', IO_EXECUTORS);
  const unknown = executors.find((e) => !(IO_EXECUTORS as string[]).includes(e));
  if (unknown !== undefined || (args.executors !== undefined && executors.length === 0)) {
    throw new BenchOptionError(`--executors expects some of ${IO_EXECUTORS.join(', ')}, got ${JSON.stringify(args.executors)}`);
  }
  return {
    requests: intOption(args, 'requests', IO_DEFAULTS.requests),
    inlineRequests: intOption(args, 'inline-requests', IO_DEFAULTS.inlineRequests),
    latency: countOption(args, 'latency', IO_DEFAULTS.latency),
    concurrency: intOption(args, 'concurrency', IO_DEFAULTS.concurrency),
    workers: intOption(args, 'workers', IO_DEFAULTS.workers),
    server,
    executors: executors as typeof IO_EXECUTORS,
    // About 40 s alone with the defaults on a busy 2-core machine; `all` must stay under 3 minutes.
    repeats: intOption(args, 'repeats', context.all ? IO_ALL_REPEATS : IO_DEFAULTS.repeats),
    warmup: countOption(args, 'warmup', IO_DEFAULTS.warmup),
  };
}

// advise's imports sit with its entry (imports are hoisted), so the entry is one block.
import { benchAdvise, prepareAdvise } from './advise.js';
import { ADVISE_DEFAULTS } from './advise-input.js';

registerBench({
  name: 'advise',
  summary: 'times a sample of your own task on every executor and says which to use, and why',
  options: [
    '--task FILE#NAME a module exporting defineTasks(...) tasks, and the task (required)',
    "--args JSON      one call's arguments as a JSON array (default [])",
    `--items N        most calls per executor (default ${ADVISE_DEFAULTS.items})`,
    `--seconds S      an executor's sample starts no call after S s (default ${ADVISE_DEFAULTS.seconds})`,
    `--workers N      pool workers (default: CPUs); --concurrency N  GreenPool size (default ${ADVISE_DEFAULTS.concurrency})`,
  ],
  flags: {
    task: { type: 'string' },
    args: { type: 'string' },
    items: { type: 'string' },
    seconds: { type: 'string' },
    workers: { type: 'string' },
    concurrency: { type: 'string' },
  },
  inAll: false,
  prepare: async (args) => void await prepareAdvise(args),
  run: (args) => benchAdvise(args),
});
