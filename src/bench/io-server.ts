/**
 * The server of `weft bench io`: a loopback HTTP server that answers `GET /item/<n>` after
 * `latency` ms with a body only that request can have (ioBody(n)), so the client can check
 * every answer. Keep-alive, and idle sockets live for the whole benchmark: a row measured after
 * a pause must not pay for reconnecting when another did not.
 *
 *   benchmark ──fork──▶ io-server-child (default: its own event loop and core)
 *        │                      │ IPC: port
 *        └── or startInline ────┴─▶ http.Server ──setTimeout(latency)──▶ 200 ioBody(n)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface IoServer {
  /** `http://127.0.0.1:<port>`; request `${origin}/item/<n>`. */
  origin: string;
  /** The server's process id when it runs in a child (for its CPU time); undefined inline. */
  pid: number | undefined;
  close(): Promise<void>;
}

/** The body the server sends for item n: its number, and filler that also depends on it. */
export function ioBody(n: number): string {
  return `weft io item ${n} ${(Math.imul(n + 1, 2654435761) >>> 0).toString(36).padStart(7, '0')}\n`;
}

/** The URL of item n. */
export function ioUrl(origin: string, n: number): string {
  return `${origin}/item/${n}`;
}

const ITEM_PATH = /^\/item\/(\d+)$/;

/** An HTTP server answering each item after `latency` ms; listening on a free loopback port. */
export async function listenIo(latency: number): Promise<Server> {
  const server = createServer({ keepAlive: true, keepAliveTimeout: 0 }, (request, response) => {
    const match = ITEM_PATH.exec(request.url ?? '');
    if (!match) {
      response.writeHead(404).end();
      return;
    }
    const body = ioBody(Number(match[1]));
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      response.end(body);
    }, latency);
  });
  // keepAliveTimeout 0 (above) keeps idle sockets open; no request may be cut short either.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  // Clients open one socket per request in flight (500 by default, per row): accept them quickly.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve);
  });
  return server;
}

/** The server in this process: it shares the client's event loop (`--server inline`). */
export async function startInlineIoServer(latency: number): Promise<IoServer> {
  const server = await listenIo(latency);
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pid: undefined,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The server in a child process (see io-server-child.ts): the default. */
export async function startChildIoServer(latency: number): Promise<IoServer> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./io-server-child.js', import.meta.url)), [String(latency)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve(message as number));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the benchmark's HTTP server exited before listening (code ${code})`)));
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    pid: child.pid,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.disconnect();
      await exited;
    },
  };
}

export function startIoServer(where: 'child' | 'inline', latency: number): Promise<IoServer> {
  return where === 'child' ? startChildIoServer(latency) : startInlineIoServer(latency);
}
