/**
 * `weft bench rpc`: awaited round trips per second and pipelined calls per second for a small
 * payload, for weft's RPC and, in the same run against the same child process, a bare `net`
 * socket ping-pong (the floor: no framing, no encoding) and newline-delimited JSON over TCP
 * (the plain baseline), both gathering a tick's writes into one as weft does (tick-batcher.ts),
 * so that pipelined they are the best a user could write by hand; then weft's RPC over ZeroMQ beside bare `zeromq` REQ/REP and
 * DEALER/ROUTER sockets (rpc-zmq.ts; skipped, with the reason, without the zeromq package).
 * Pipelined runs keep a fixed window of calls in flight, each answer starting the next call, as
 * a busy client does. Goals (issue 4): awaited ≥ 80% of the bare socket; pipelined ≥ 150,000
 * calls/s.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Deque } from '../core/deque.js';
import { connect } from '../remote/rpc.js';
import { rateChart } from './chart-builders.js';
import { inRounds, percent, progressSteps, reportSpread, summarize, type BenchReport, type Cell } from './harness.js';
import type { PeerPorts } from './rpc-peer.js';
import { BENCH_AUTHKEY, PAYLOAD, type Transport } from './rpc-shared.js';
import { zmqTransports } from './rpc-zmq.js';
import { TickBatcher } from './tick-batcher.js';

export interface RpcBenchOptions {
  /** Awaited round trips per measured run. */
  calls: number;
  /** Calls per pipelined run. */
  pipelined: number;
  /** Calls in flight at once in a pipelined run. */
  window: number;
  repeats: number;
}

export const RPC_DEFAULTS: RpcBenchOptions = { calls: 5000, pipelined: 100_000, window: 1000, repeats: 5 };

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.setNoDelay(true);
    socket.once('error', reject);
  });
}

/**
 * Sends the payload's bytes; its echo, counted in bytes, answers the oldest call. The writes of
 * one tick leave together (tick-batcher.ts), as weft's own do: the floor, not a strawman.
 */
async function bareTransport(port: number): Promise<Transport> {
  const socket = await openSocket(port);
  const message = Buffer.from(JSON.stringify(PAYLOAD));
  const waiting = new Deque<() => void>();
  const out = new TickBatcher<Buffer>((messages) => socket.write(messages.length === 1 ? messages[0]! : Buffer.concat(messages)));
  let received = 0;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    while (received >= message.length && waiting.length > 0) {
      received -= message.length;
      waiting.shift()!();
    }
  });
  return {
    name: 'bare net socket',
    call: () => new Promise<void>((resolve) => {
      waiting.push(resolve);
      out.push(message);
    }),
    close: async () => void socket.destroy(),
  };
}

async function jsonTransport(port: number): Promise<Transport> {
  const socket = await openSocket(port);
  socket.setEncoding('utf8');
  const pending = new Map<number, (value: unknown) => void>();
  const out = new TickBatcher<string>((lines) => socket.write(lines.join('')));
  let nextId = 0;
  let buffered = '';
  socket.on('data', (text: string) => {
    buffered += text;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const response = JSON.parse(buffered.slice(0, newline)) as { id: number; result: unknown };
      buffered = buffered.slice(newline + 1);
      const resolve = pending.get(response.id)!;
      pending.delete(response.id);
      resolve(response.result);
    }
  });
  return {
    name: 'JSON over TCP',
    call: () => new Promise((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      out.push(`${JSON.stringify({ id, method: 'echo', args: [PAYLOAD] })}\n`);
    }),
    close: async () => void socket.destroy(),
  };
}

async function weftTransport(port: number): Promise<Transport> {
  const remote = await connect<{ echo(value: typeof PAYLOAD): typeof PAYLOAD }>(`tcp://127.0.0.1:${port}`, { authkey: BENCH_AUTHKEY });
  return {
    name: 'weft RPC',
    call: () => remote.echo(PAYLOAD),
    close: () => remote.close(),
  };
}

/** `total` calls, `window` of them in flight at any moment: each answer starts the next call. */
function pipeline(call: () => PromiseLike<unknown>, total: number, window: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let started = 0;
    let finished = 0;
    const next = (): void => {
      if (started === total) return;
      started++;
      call().then(() => (++finished === total ? resolve() : next()), reject);
    };
    for (let i = 0; i < Math.min(window, total); i++) next();
  });
}

async function timed(run: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await run();
  return (performance.now() - start) / 1000;
}

function startPeer(): Promise<{ child: ChildProcess; ports: PeerPorts }> {
  const child = fork(fileURLToPath(new URL('./rpc-peer.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (ports) => resolve({ child, ports: ports as PeerPorts }));
    child.once('exit', (code) => reject(new Error(`the benchmark's server process exited early (code ${code})`)));
  });
}

export async function benchRpc(options: RpcBenchOptions): Promise<BenchReport> {
  const { child, ports } = await startPeer();
  const transports = [await bareTransport(ports.bare), await jsonTransport(ports.json), await weftTransport(ports.weft)];
  if (typeof ports.zmq !== 'string') transports.push(...await zmqTransports(ports.zmq));
  // Runs alternate between transports (harness.ts's round order, the first one rotating) so that
  // a noisy neighbour on a shared machine hits all alike. All awaited rounds come first: a
  // pipelined run leaves much garbage, and the awaited run after it (another transport's) would
  // pay for collecting it.
  const awaitedSeconds = new Map<string, number[]>(transports.map((t) => [t.name, []]));
  const pipelinedSeconds = new Map<string, number[]>(transports.map((t) => [t.name, []]));
  const piping = transports.filter((t) => t.pipelines !== false);
  const steps = progressSteps((options.repeats + 1) * (transports.length + piping.length));
  const detail = (run: number) => (run < 0 ? 'warm-up' : `run ${run + 1}/${options.repeats}`);
  const rounds = { warmup: 1, rounds: options.repeats };
  try {
    await inRounds(transports.length, rounds, async (t, run) => {
      const transport = transports[t]!;
      steps.running(`${transport.name} awaited`, detail(run));
      const seconds = await timed(async () => {
        for (let i = 0; i < options.calls; i++) await transport.call();
      });
      if (run >= 0) awaitedSeconds.get(transport.name)!.push(seconds);
      steps.finished(`${transport.name} awaited`, detail(run), `${Math.round(options.calls / seconds).toLocaleString('en-US')}/s`);
    });
    await inRounds(piping.length, rounds, async (t, run) => {
      const transport = piping[t]!;
      steps.running(`${transport.name} pipelined`, detail(run));
      const seconds = await timed(() => pipeline(() => transport.call(), options.pipelined, options.window));
      if (run >= 0) pipelinedSeconds.get(transport.name)!.push(seconds);
      steps.finished(`${transport.name} pipelined`, detail(run), `${Math.round(options.pipelined / seconds).toLocaleString('en-US')}/s`);
    });
  } finally {
    steps.end();
    for (const transport of transports) await transport.close();
    child.disconnect();
  }
  const figures: Record<string, { awaited: number; pipelined: number }> = {};
  for (const { name, pipelines } of transports) {
    figures[name] = {
      awaited: options.calls / summarize(awaitedSeconds.get(name)!).median,
      pipelined: pipelines === false ? NaN : options.pipelined / summarize(pipelinedSeconds.get(name)!).median,
    };
  }
  const bare = figures['bare net socket']!;
  const weft = figures['weft RPC']!;
  const rows: Cell[][] = transports.map(({ name, pipelines }) => {
    const f = figures[name]!;
    const piped = pipelines === false ? [undefined, undefined] : [f.pipelined, percent(f.pipelined / bare.pipelined)];
    return [name, f.awaited, 1e6 / f.awaited, percent(f.awaited / bare.awaited), ...piped];
  });
  return {
    title: `weft bench rpc: ${options.calls} awaited round trips, ${options.pipelined} pipelined calls (${options.window} in flight), payload ${JSON.stringify(PAYLOAD).length} bytes as JSON, median of ${options.repeats}`,
    header: ['transport', 'awaited/s', 'µs/round trip', 'vs bare', 'pipelined/s', 'vs bare'],
    rows,
    notes: [
      `weft pipelined: ${(weft.pipelined / figures['JSON over TCP']!.pipelined).toFixed(2)}× JSON over TCP`,
      ...zmqNotes(figures, ports.zmq),
    ],
    charts: [
      rateChart('awaited round trips, one at a time', 'calls/s', options.calls, transports.map(({ name }) => ({ label: name, rounds: summarize(awaitedSeconds.get(name)!) }))),
      rateChart(`pipelined calls, ${options.window} in flight`, 'calls/s', options.pipelined, transports.map(({ name, pipelines }) => ({ label: name, rounds: pipelines === false ? undefined : summarize(pipelinedSeconds.get(name)!) }))),
    ],
    goals: [
      { text: `weft awaited round trips: ${percent(weft.awaited / bare.awaited)} of the bare socket's rate (goal ≥ 80%)`, met: weft.awaited / bare.awaited >= 0.8 },
      { text: `weft pipelined: ${Math.round(weft.pipelined).toLocaleString('en-US')} calls/s (goal ≥ 150,000)`, met: weft.pipelined >= 150_000 },
    ],
    spread: reportSpread([...awaitedSeconds.values(), ...pipelinedSeconds.values()]),
    data: { options, figures },
  };
}

/** The ZeroMQ rows against weft's TCP RPC and against bare zeromq, as ratios. */
function zmqNotes(figures: Record<string, { awaited: number; pipelined: number }>, zmq: PeerPorts['zmq']): string[] {
  if (typeof zmq === 'string') return [`ZeroMQ rows skipped: ${zmq}`];
  const tcp = figures['weft RPC']!;
  const over = figures['weft RPC over ZeroMQ']!;
  const reqRep = figures['bare zeromq REQ/REP']!;
  const dealer = figures['bare zeromq DEALER/ROUTER']!;
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  return [
    `weft over ZeroMQ, awaited: ${x(over.awaited, tcp.awaited)} weft over TCP, ${x(over.awaited, reqRep.awaited)} bare REQ/REP, ${x(over.awaited, dealer.awaited)} bare DEALER/ROUTER`,
    `weft over ZeroMQ, pipelined: ${x(over.pipelined, tcp.pipelined)} weft over TCP, ${x(over.pipelined, dealer.pipelined)} bare DEALER/ROUTER (both send a tick's calls as one message)`,
  ];
}
