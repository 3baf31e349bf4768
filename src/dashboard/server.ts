/**
 * `serveDashboard()`: one HTTP server, one page, one event stream, three actions.
 *
 *   browser ── GET / ─────────────▶ the page (HTML, inline CSS and JS, no build step, no CDN)
 *   browser ── GET /events ───────▶ server-sent events: a snapshot after every read of the cluster
 *   browser ── POST /api/retry | /api/revoke | /api/drain (JSON) ─▶ source ─▶ read again at once
 *   client  ── GET /api/snapshot ─▶ the last snapshot as JSON
 *
 * Every request needs the token (auth.ts); without it the answer is 401 and nothing else.
 * It listens on 127.0.0.1 unless told otherwise: the page is plain HTTP.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { logger } from '../log.js';
import { cookieName, deriveToken, presentedToken, sameOrigin, tokenMatches } from './auth.js';
import { Monitor } from './monitor.js';
import { checkDashboardOptions, type DashboardOptions, type DashboardSettings } from './options.js';
import { renderPage } from './page.js';
import { BrokerSource } from './sources/broker-source.js';
import { EmbeddedSource } from './sources/embedded-source.js';
import { DashboardActionError, type DashboardSource, type Snapshot } from './types.js';

export interface Dashboard {
  /** The page's address with its token: what to open (print it once, it is the key). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly token: string;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** An idle event stream gets a comment this often, so proxies and browsers keep it open. */
const KEEPALIVE_MS = 15_000;
/** Action bodies are a few ids; anything longer is not one. */
const MAX_BODY = 4096;

export async function serveDashboard(options: DashboardOptions): Promise<Dashboard> {
  const settings = checkDashboardOptions(options);
  const source = await openSource(settings);
  const monitor = new Monitor(source, settings.interval);
  try {
    await monitor.start();
  } catch (error) {
    await source.close();
    throw error;
  }
  const token = deriveToken(settings.authkey);
  const streams = new Set<ServerResponse>();
  let port = 0;
  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: Error) => {
      logger().error('dashboard: a request failed', { url: request.url, error: error.message });
      if (!response.headersSent) send(response, 500, { error: 'internal error' });
      else response.end();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://dashboard');
    if (!tokenMatches(presentedToken(request, port, url), token)) return send(response, 401, { error: 'unauthorized' });
    if (request.method === 'GET') {
      if (url.pathname === '/' && url.searchParams.has('token')) {
        // Keep the token out of the address bar and history: a cookie carries it from now on.
        response.writeHead(303, {
          location: '/',
          'set-cookie': `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`,
          'cache-control': 'no-store',
          'referrer-policy': 'no-referrer',
        });
        return void response.end();
      }
      if (url.pathname === '/') return page(response);
      if (url.pathname === '/events') return events(request, response);
      if (url.pathname === '/api/snapshot') return send(response, 200, monitor.snapshot ?? null);
      return send(response, 404, { error: 'not found' });
    }
    if (request.method === 'POST') {
      if (!sameOrigin(request)) return send(response, 403, { error: 'cross-origin request refused' });
      if (!(request.headers['content-type'] ?? '').startsWith('application/json')) return send(response, 415, { error: 'expected a JSON body' });
      const body = await readJson(request);
      if (body === undefined) return send(response, 400, { error: 'expected a JSON object of at most 4096 bytes' });
      return act(url.pathname, body, response);
    }
    response.setHeader('allow', 'GET, POST');
    return send(response, 405, { error: 'method not allowed' });
  }

  function page(response: ServerResponse): void {
    const nonce = randomBytes(16).toString('base64');
    response.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    response.end(renderPage(nonce));
  }

  function events(request: IncomingMessage, response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    response.write('retry: 2000\n\n');
    // A client that does not keep up skips snapshots (each one replaces the last) instead of
    // growing this process's buffers.
    let backedUp = false;
    response.on('drain', () => { backedUp = false; });
    const push = (snapshot: Snapshot) => {
      if (!backedUp) backedUp = !response.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
    };
    if (monitor.snapshot) push(monitor.snapshot);
    const unsubscribe = monitor.subscribe(push);
    const keepalive = setInterval(() => response.write(': keepalive\n\n'), KEEPALIVE_MS);
    streams.add(response);
    request.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
      streams.delete(response);
    });
  }

  async function act(path: string, body: Record<string, unknown>, response: ServerResponse): Promise<void> {
    const text = (name: string) => (typeof body[name] === 'string' && body[name] !== '' && (body[name] as string).length <= 200 ? body[name] as string : undefined);
    try {
      if (path === '/api/retry') {
        const id = text('id');
        if (!id) return send(response, 400, { error: 'expected { id, queue? }' });
        await source.retry(id, text('queue'));
      } else if (path === '/api/revoke') {
        const id = text('id');
        if (!id) return send(response, 400, { error: 'expected { id }' });
        await source.revoke(id);
      } else if (path === '/api/drain') {
        const worker = text('worker');
        if (!worker) return send(response, 400, { error: 'expected { worker }' });
        await source.drain(worker);
      } else return send(response, 404, { error: 'not found' });
    } catch (error) {
      if (error instanceof DashboardActionError) return send(response, error.status, { error: error.message });
      throw error;
    }
    logger().info('dashboard: action done', { action: path.slice(5), ...body });
    send(response, 200, { ok: true });
    void monitor.refresh();
  }

  server.listen(settings.port, settings.host);
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => { throw error; })]);
  } catch (error) {
    await monitor.close();
    await source.close();
    throw error;
  }
  port = (server.address() as { port: number }).port;
  const shownHost = settings.host.includes(':') ? `[${settings.host}]` : settings.host === '0.0.0.0' ? '127.0.0.1' : settings.host;
  let closing: Promise<void> | undefined;
  const close = () => closing ??= (async () => {
    await monitor.close();
    for (const stream of streams) stream.end();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await source.close();
  })();
  return {
    url: `http://${shownHost}:${port}/?token=${token}`,
    port,
    host: settings.host,
    token,
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function openSource(settings: DashboardSettings): Promise<DashboardSource> {
  const t = settings.target;
  if ('broker' in t) return BrokerSource.open({ url: t.broker, queues: settings.queues });
  if ('connect' in t) return new EmbeddedSource({ connect: t.connect, authkey: settings.authkey! });
  const target = t.cluster.brokerTarget;
  if (target) return BrokerSource.open({ url: target.url, queues: settings.queues, cluster: t.cluster });
  return new EmbeddedSource({ cluster: t.cluster });
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  response.end(text);
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}
