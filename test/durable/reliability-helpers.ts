/**
 * What the durable cluster's reliability tests share: the ledger the fixture tasks write (to
 * count tasks that ran twice), waits with a deadline that say what they waited for, settle
 * counts per future, servers of their own (redis-server, nats-server) that a test restarts, and
 * the clean-up of results left on the shared Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Future } from '../../src/index.js';
import { Codec } from '../../src/remote/codec.js';
import { FIXTURES } from '../cluster/helpers.js';
import { expectedValue, type LedgerValue } from '../fixtures/reliability-tasks.js';

export const REL_TASKS = join(FIXTURES, 'reliability-tasks.js');

/** Waits until `check()` holds (polling: it observes other processes); the error says what for. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Rejects with `what` if `promise` takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The runs the fixture tasks wrote: starts and finishes per argument. */
export class Ledger {
  constructor(readonly path: string) {}

  /** Every line: [s (started) | d (done), argument, pid]. */
  lines(): ['s' | 'd', number, number][] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, 'utf8').split('\n').flatMap((line) => {
      const [kind, x, pid] = line.split(' ');
      return kind === 's' || kind === 'd' ? [[kind, Number(x), Number(pid)] as ['s' | 'd', number, number]] : [];
    });
  }

  read(): { starts: Map<number, number>; finishes: Map<number, number> } {
    const starts = new Map<number, number>();
    const finishes = new Map<number, number>();
    for (const [kind, x] of this.lines()) {
      const table = kind === 's' ? starts : finishes;
      table.set(x, (table.get(x) ?? 0) + 1);
    }
    return { starts, finishes };
  }

  /** Processes running a task right now (a start not followed by its finish in that process). */
  busyPids(): Set<number> {
    const open = new Map<string, number>();
    for (const [kind, x, pid] of this.lines()) {
      const key = `${x} ${pid}`;
      open.set(key, (open.get(key) ?? 0) + (kind === 's' ? 1 : -1));
    }
    const busy = new Set<number>();
    for (const [key, count] of open) if (count > 0) busy.add(Number(key.slice(key.indexOf(' ') + 1)));
    return busy;
  }

  /** Runs finished so far (all tasks, duplicates included). */
  finishedRuns(): number {
    let total = 0;
    for (const count of this.read().finishes.values()) total += count;
    return total;
  }

  /** Tasks started more than once, and tasks that finished more than once (their effect happened twice). */
  twice(): { started: number; finished: number } {
    const { starts, finishes } = this.read();
    const over = (table: Map<number, number>) => [...table.values()].filter((count) => count > 1).length;
    return { started: over(starts), finished: over(finishes) };
  }
}

/** Counts how often each future settles, and when. */
export class SettleLog {
  readonly counts: number[];
  readonly times: number[];

  constructor(futures: readonly Future<unknown, unknown>[]) {
    this.counts = futures.map(() => 0);
    this.times = futures.map(() => 0);
    futures.forEach((future, i) => future.onDone(() => {
      this.counts[i]!++;
      this.times[i] = Date.now();
    }));
  }

  get settled(): number {
    return this.counts.filter((count) => count > 0).length;
  }

  /** Indexes of futures that settled other than once. */
  notOnce(): number[] {
    return this.counts.flatMap((count, i) => (count === 1 ? [] : [i]));
  }

  /** The first settle at or after `t` (epoch ms), or undefined. */
  firstAfter(t: number): number | undefined {
    const later = this.times.filter((time) => time >= t);
    return later.length === 0 ? undefined : Math.min(...later);
  }
}

/** Indexes whose value is not the fixture's value for that index (the task's argument is its index). */
export function wrongValues(values: readonly LedgerValue[], offset = 0): number[] {
  return values.flatMap((v, i) => (v?.value === expectedValue(i + offset) ? [] : [i]));
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A server process of the test's own (redis-server, nats-server) on a fixed port and data
 * directory, so that it can be stopped and started again as the same server.
 */
export class OwnServer {
  #child: ChildProcess | undefined;
  #output = '';

  constructor(readonly name: string, readonly command: string, readonly args: string[], readonly readyLine: RegExp) {}

  get output(): string {
    return this.#output;
  }

  async start(): Promise<void> {
    const child = spawn(this.command, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const exited = once(child, 'exit');
    let seen = '';
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        seen += chunk;
        this.#output += chunk;
        if (this.readyLine.test(seen)) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      void exited.then(() => reject(new Error(`${this.name} exited before it was ready:\n${seen}`)));
      child.on('error', reject);
    });
    await within(ready, 10_000, `${this.name} to say it is ready (${this.readyLine})`);
  }

  /** SIGTERM (both servers shut down cleanly on it: Redis fsyncs its append-only file) and wait for the exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await within(exited, 10_000, `${this.name} to exit after SIGTERM`).catch((error: Error) => {
      child.kill('SIGKILL');
      throw error;
    });
  }
}

export function ownRedis(port: number, dir: string): OwnServer {
  return new OwnServer('redis-server', 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', '', '--daemonize', 'no',
  ], /Ready to accept connections/);
}

export function ownNats(port: number, dir: string): OwnServer {
  return new OwnServer('nats-server', '/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], /Server is ready/);
}

/** Removes the results the tests stored on a shared Redis (the workers keep them a day). */
export async function forgetRedisResults(url: string, ids: readonly string[]): Promise<void> {
  const { Redis } = await import('ioredis');
  const plain = new URL(url);
  plain.search = '';
  const redis = new Redis(plain.href);
  try {
    for (let i = 0; i < ids.length; i += 1000) await redis.del(...ids.slice(i, i + 1000).map((id) => `weft:r:${id}`));
  } finally {
    redis.disconnect();
  }
}

/** Entries in a Redis queue's stream (waiting plus held). */
export async function redisQueueLength(url: string, queue: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const plain = new URL(url);
  plain.search = '';
  const redis = new Redis(plain.href);
  try {
    return await redis.xlen(`weft:q:${queue}`);
  } finally {
    redis.disconnect();
  }
}

/** Tasks carried by the messages in a Redis queue's stream (a batch message carries several). */
export async function redisQueuedTasks(url: string, queue: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const plain = new URL(url);
  plain.search = '';
  const redis = new Redis(plain.href);
  const codec = new Codec();
  try {
    let tasks = 0;
    for (const [, fields] of await redis.xrangeBuffer(`weft:q:${queue}`, '-', '+')) {
      const payload = fields[fields.findIndex((field) => field.toString() === 'm' || field.toString() === 'p') + 1];
      const body = payload && codec.decode(payload) as { batch?: unknown[] } | undefined;
      tasks += Array.isArray(body?.batch) ? body.batch.length : 1;
    }
    return tasks;
  } finally {
    redis.disconnect();
  }
}

/**
 * A TCP relay on loopback to a real server that can be closed for a while: close() drops every
 * relayed connection and refuses new ones (a network partition, as the client sees it), open()
 * lets them through again, on the same port.
 */
export class GateRelay {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #closed = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(targetPort: number): Promise<GateRelay> {
    const server = createServer();
    const relay = new GateRelay(server);
    server.on('connection', (client) => {
      if (relay.#closed) return void client.destroy();
      const upstream = connect(targetPort, '127.0.0.1');
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        relay.#sockets.add(from);
        from.pipe(to);
        from.on('error', () => to.destroy());
        from.on('close', () => {
          relay.#sockets.delete(from);
          to.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  close(): void {
    this.#closed = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  open(): void {
    this.#closed = false;
  }

  async shut(): Promise<void> {
    this.close();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}
