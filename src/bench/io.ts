/**
 * `weft bench io`: the articles' IO test (fetch many URLs) on every executor, next to a bare
 * http.Agent + p-limit client and a bare fetch + p-limit client, in one run. Each row is a
 * client process of its own (io-client.ts); the server answers after `latency` ms.
 *
 *   io-server (child or each client's own) ◀──HTTP keep-alive──┬── inline     (a small sample)
 *                                                              ├── green      (GreenPool)
 *                                                              ├── threads / processes (a batch per worker)
 *                                                              ├── cluster    (green local workers)
 *                                                              └── Agent / fetch + p-limit (bare)
 *   this process: rounds (measureInterleaved) ──run──▶ each client ──done──▶ table, goals, chart
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { measureInterleaved, percent, summarize, type BenchReport, type Cell, type Chart, type Contender, type Goal } from './harness.js';
import type { IoClientConfig, IoClientMessage, IoRowKind } from './io-client.js';
import { startChildIoServer, type IoServer } from './io-server.js';

export interface IoOptions {
  requests: number;
  /** Requests of the inline row, which makes them one at a time. */
  inlineRequests: number;
  latency: number;
  concurrency: number;
  workers: number;
  /** Where the HTTP server runs: its own process, or inside each client's. */
  server: 'child' | 'inline';
  executors: IoRowKind[];
  repeats: number;
  warmup: number;
}

export const IO_EXECUTORS: IoRowKind[] = ['inline', 'green', 'threads', 'processes', 'cluster'];

export const IO_DEFAULTS: IoOptions = {
  requests: 2000, inlineRequests: 100, latency: 10, concurrency: 500, workers: 2, server: 'child', executors: IO_EXECUTORS, repeats: 5, warmup: 1,
};

/** Measured rounds in `weft bench all`, which runs every mode in turn. */
export const IO_ALL_REPEATS = 3;

/** The articles' fetch test in Python, run on this machine (issue 13): requests/s. */
export const PYTHON_ANCHORS = { eventlet: 2600, threads: 2500 };

/**
 * The order rows run in within a round (the table keeps IO_EXECUTORS' order, bare clients last).
 * Green and the bare Agent, which the goal compares, run twice, A B B A: drift during a round
 * lands on both alike, and each green run has an Agent run next to it to be compared with.
 */
const RUN_ORDER: IoRowKind[] = ['inline', 'green', 'agent', 'agent', 'green', 'fetch', 'threads', 'processes', 'cluster'];

const ROW_NAMES: Record<IoRowKind, string> = {
  inline: 'inline',
  green: 'green',
  threads: 'threads',
  processes: 'processes',
  cluster: 'cluster',
  agent: 'http.Agent + p-limit',
  fetch: 'fetch + p-limit',
};

export interface IoRow {
  executor: string;
  kind: IoRowKind;
  /** A bare client without weft (drawn as a peer). */
  peer: boolean;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  minRequestsPerSecond: number;
  maxRequestsPerSecond: number;
  spread: number;
  /** Milliseconds from sending a request to the end of its body, over every measured run. */
  p50: number;
  p99: number;
  /** Megabytes: the largest over the measured runs of the row's processes' summed peaks. */
  peakRssMb: number | undefined;
  /** CPU seconds of the row's processes per run (median). */
  cpuSeconds: number | undefined;
  cpuMicrosPerRequest: number | undefined;
  /** Measured runs (green and the bare Agent run twice a round). */
  runs: number;
  /** Responses whose body was checked, over the measured runs. */
  checked: number;
  /** Seconds of each measured run, in the order they ran. */
  samples: number[];
}

interface RoundStats {
  seconds: number[];
  checked: number;
  latencies: number[];
  cpu: (number | undefined)[];
  rss: (number | undefined)[];
}

/** A client process, ready to run its row. */
interface ClientProcess {
  kind: IoRowKind;
  requests: number;
  run(): Promise<Extract<IoClientMessage, { type: 'done' }>>;
  close(): Promise<void>;
}

async function startClient(config: IoClientConfig): Promise<ClientProcess> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./io-client.js', import.meta.url)), [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const name = ROW_NAMES[config.kind];
  // Every wait on the child also ends when it exits, so a crashed client fails the run with its name.
  const next = () => new Promise<IoClientMessage>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`the ${name} client exited (code ${code}) while the benchmark waited for it`));
    child.once('exit', onExit);
    child.once('message', (message) => {
      child.off('exit', onExit);
      resolve(message as IoClientMessage);
    });
  });
  const first = await next();
  if (first.type === 'error') throw new Error(`${name}: ${first.message}`);
  return {
    kind: config.kind,
    requests: config.requests,
    run: async () => {
      const reply = next();
      child.send({ type: 'run' });
      const message = await reply;
      if (message.type !== 'done') throw new Error(`${name}: ${message.type === 'error' ? message.message : 'unexpected reply'}`);
      return message;
    },
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.disconnect();
      await exited;
    },
  };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A figure only when every run reported it: a partial one would flatter the row. */
function allDefined(values: (number | undefined)[]): number[] | undefined {
  return values.every((v): v is number => v !== undefined) && values.length > 0 ? values : undefined;
}

/** Whether p-limit, which the bare clients use, can be loaded (a devDependency of weft). */
async function hasPLimit(): Promise<boolean> {
  try {
    await import('p-limit');
    return true;
  } catch {
    return false;
  }
}

export async function benchIo(options: IoOptions): Promise<BenchReport> {
  const bare = await hasPLimit();
  const kinds: IoRowKind[] = [...options.executors, ...(bare ? (['agent', 'fetch'] as const) : [])];
  let server: IoServer | undefined;
  const clients: ClientProcess[] = [];
  const rows: IoRow[] = [];
  try {
    server = options.server === 'child' ? await startChildIoServer(options.latency) : undefined;
    // Started one after the other: pools and clusters start workers, which is no part of a run.
    for (const kind of kinds) {
      clients.push(await startClient({
        kind,
        origin: server?.origin,
        latency: options.latency,
        requests: kind === 'inline' ? Math.min(options.inlineRequests, options.requests) : options.requests,
        concurrency: options.concurrency,
        workers: options.workers,
      }));
    }
    const stats = clients.map((): RoundStats => ({ seconds: [], checked: 0, latencies: [], cpu: [], rss: [] }));
    // Rounds run green and the bare clients one after the other, before the rows with worker
    // processes, whose aftermath (their workers' garbage collection) should not land on them.
    const order = RUN_ORDER.map((kind) => clients.findIndex((client) => client.kind === kind)).filter((c) => c >= 0);
    const contenders: Contender<void>[] = order.map((c) => {
      const client = clients[c]!;
      let calls = 0;
      return {
        name: ROW_NAMES[client.kind],
        run: async () => {
          const done = await client.run();
          if (++calls <= options.warmup) return; // warm-up runs are not figures
          const s = stats[c]!;
          s.seconds.push(done.seconds);
          s.checked += done.checked;
          for (const ms of done.latencies) s.latencies.push(ms);
          s.cpu.push(done.cpuSeconds);
          s.rss.push(done.peakRss);
        },
      };
    });
    await measureInterleaved(contenders, options);
    clients.forEach((client, c) => {
      const s = stats[c]!;
      // Each run as its client timed it: the requests only, not the IPC around them.
      const result = summarize(s.seconds);
      const latencies = s.latencies.sort((a, b) => a - b);
      const cpu = allDefined(s.cpu);
      const rss = allDefined(s.rss);
      const cpuSeconds = cpu && median(cpu);
      rows.push({
        executor: ROW_NAMES[client.kind],
        kind: client.kind,
        peer: client.kind === 'agent' || client.kind === 'fetch',
        requests: client.requests,
        seconds: result.median,
        requestsPerSecond: client.requests / result.median,
        minRequestsPerSecond: client.requests / result.max,
        maxRequestsPerSecond: client.requests / result.min,
        spread: result.spread,
        p50: quantile(latencies, 0.5),
        p99: quantile(latencies, 0.99),
        peakRssMb: rss && Math.max(...rss) / 2 ** 20,
        cpuSeconds,
        cpuMicrosPerRequest: cpuSeconds === undefined ? undefined : (cpuSeconds * 1e6) / client.requests,
        runs: s.seconds.length,
        checked: s.checked,
        samples: s.seconds,
      });
    });
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
    await server?.close();
  }
  const report = ioReport(options, rows);
  if (!bare) report.notes.unshift('the bare http.Agent and fetch clients were skipped: they need p-limit (npm install p-limit), so green is not compared with them');
  return report;
}

function ioReport(options: IoOptions, rows: IoRow[]): BenchReport {
  const row = (kind: IoRowKind) => rows.find((r) => r.kind === kind);
  const agent = row('agent');
  const green = row('green');
  const inline = row('inline');
  const goals: Goal[] = [];
  // Figures are cut (not rounded) to what the line shows, so a verdict never contradicts its line.
  if (green && agent) {
    // The median of green's requests/s over the Agent's in runs next to each other (A B B A).
    const paired = green.samples.map((seconds, i) => agent.samples[i]! / seconds);
    const shown = floorTo(median(paired) * 100, 1);
    goals.push({ text: `green: ${shown.toFixed(1)}% of the bare http.Agent + p-limit client's requests/s (goal: >= 95%)`, met: shown >= 95 });
  }
  if (green) {
    const shown = floorTo(green.requestsPerSecond / PYTHON_ANCHORS.eventlet, 2);
    goals.push({ text: `green: ${fmt(green.requestsPerSecond)} requests/s, ${shown.toFixed(2)}x eventlet's ${fmt(PYTHON_ANCHORS.eventlet)} (goal: >= 1.3x)`, met: shown >= 1.3 });
  }

  const notes = [
    `requests/s: ${options.requests.toLocaleString('en-US')} requests per run${inline ? ` (inline: ${inline.requests}, one at a time, reported as measured, not extrapolated)` : ''}, median of ${options.repeats} rounds, each running every row once in turn (green next to the bare clients), each run timed by its client process; every response body was checked (${rows.reduce((n, r) => n + r.checked, 0).toLocaleString('en-US')} in all)`,
    `the server answers after ${options.latency} ms, ${options.server === 'child' ? 'in a process of its own' : "inside each client's process, on its event loop (its CPU and memory count in every row)"}; each row is a client process of its own, ${options.concurrency} requests in flight (threads and processes: one batch per worker, ${Math.ceil(options.concurrency / options.workers)} in flight in each of ${options.workers}; cluster: ${options.workers} green workers at ${Math.ceil(options.concurrency / options.workers)} each)`,
  ];
  if (green && agent) {
    notes.push(`green and the bare Agent run twice a round, in the order green, Agent, Agent, green; the goal's ratio is the median over the pairs of runs next to each other (${green.runs} pairs)`);
  }
  if (green && inline) {
    notes.push(`green threads win IO: green is ${(green.requestsPerSecond / inline.requestsPerSecond).toFixed(0)}x inline's requests/s (the articles: eventlet took their fetch test from 9 s to 0.03 s, 300x)`);
  }
  const anchors = [green && `green ${(green.requestsPerSecond / PYTHON_ANCHORS.eventlet).toFixed(2)}x eventlet's ${fmt(PYTHON_ANCHORS.eventlet)}`, row('threads') && `threads ${(row('threads')!.requestsPerSecond / PYTHON_ANCHORS.threads).toFixed(2)}x Python threads' ${fmt(PYTHON_ANCHORS.threads)}`].filter(Boolean);
  if (anchors.length) notes.push(`against the articles' test in Python on this machine (requests/s): ${anchors.join(', ')}`);
  const costed = rows.filter((r) => r.cpuMicrosPerRequest !== undefined);
  if (costed.length) {
    notes.push(`what each model costs, CPU per request (all its processes): ${costed.map((r) => `${r.executor} ${r.cpuMicrosPerRequest!.toFixed(0)} µs`).join(', ')}`);
  }
  const others = green ? rows.filter((r) => ['threads', 'processes', 'cluster'].includes(r.kind)) : [];
  if (green && others.length) {
    const cost = (r: IoRow) => [
      `${(r.requestsPerSecond / green.requestsPerSecond).toFixed(2)}x requests/s`,
      r.cpuMicrosPerRequest !== undefined && green.cpuMicrosPerRequest !== undefined ? `${(r.cpuMicrosPerRequest / green.cpuMicrosPerRequest).toFixed(2)}x CPU a request` : undefined,
      r.peakRssMb !== undefined && green.peakRssMb !== undefined ? `${r.peakRssMb >= green.peakRssMb ? '+' : ''}${(r.peakRssMb - green.peakRssMb).toFixed(0)} MB peak RSS` : undefined,
    ].filter(Boolean).join(', ');
    notes.push(`against green, what the other models cost for the same requests: ${others.map((r) => `${r.executor} ${cost(r)}`).join('; ')}`);
  }
  notes.push('peak RSS: the sum of the peaks of the row\'s processes (the client, and its worker processes for processes and cluster; threads are inside the client) during a run');

  return {
    title: `weft bench io: ${options.requests.toLocaleString('en-US')} GETs on loopback, ${options.latency} ms server latency, ${options.concurrency} in flight, ${options.workers} workers`,
    header: ['client', 'requests', 'requests/s', 'spread', 'vs Agent', 'p50 ms', 'p99 ms', 'peak RSS MB', 'CPU s'],
    rows: rows.map((r): Cell[] => [
      r.executor, r.requests, r.requestsPerSecond, percent(r.spread), agent ? `${(r.requestsPerSecond / agent.requestsPerSecond).toFixed(2)}x` : undefined,
      r.p50, r.p99, r.peakRssMb, r.cpuSeconds,
    ]),
    notes,
    goals,
    charts: [ioChart(rows)],
    spread: Math.max(...rows.map((r) => r.spread)),
    data: { benchmark: 'io', options, rows, goals },
  };
}

function ioChart(rows: IoRow[]): Chart {
  return {
    title: 'requests/s (higher is better)',
    unit: 'requests/s',
    higherIsBetter: true,
    bars: rows.map((r) => ({ label: r.executor, value: r.requestsPerSecond, min: r.minRequestsPerSecond, max: r.maxRequestsPerSecond, peer: r.peer })),
  };
}

function floorTo(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.floor(value * scale + 1e-9) / scale;
}

function fmt(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)}k` : value.toFixed(0);
}
