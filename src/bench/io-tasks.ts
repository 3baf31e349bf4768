/**
 * The request every row of `weft bench io` makes, the same code everywhere: a GET on a
 * keep-alive `http.Agent`, the body read as text, and how long it took. Worker threads,
 * processes and cluster workers import this module by URL.
 *
 *   fetchTimed(url) ──http.get(agent)──▶ server ──body──▶ { body, ms }
 *   fetchBatch(urls, n): n fetchTimed loops over one worker's share (threads, processes)
 */
import { Agent, get } from 'node:http';
import { performance } from 'node:perf_hooks';
import { defineTasks } from '../core/task.js';

export interface Fetched {
  body: string;
  /** Milliseconds from sending the request to the end of its body. */
  ms: number;
}

/**
 * A keep-alive agent with no socket limit: the caller's concurrency decides how many are open.
 * Every idle socket is kept (the default keeps 256), so no run reconnects what the last opened.
 */
export function keepAliveAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity });
}

/** GET `url` on `agent`; rejects on a status other than 200 or a broken connection. */
export function timedGet(agent: Agent, url: string): Promise<Fetched> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    get(url, { agent }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`GET ${url}: HTTP ${response.statusCode}`));
        return;
      }
      response.setEncoding('utf8');
      let body = '';
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ body, ms: performance.now() - start }));
      response.on('error', reject);
    }).on('error', reject);
  });
}

/** The same request with the built-in fetch (undici): the bare fetch row. */
export async function timedFetch(url: string): Promise<Fetched> {
  const start = performance.now();
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url}: HTTP ${response.status}`);
  const body = await response.text();
  return { body, ms: performance.now() - start };
}

// One agent per thread or process, made on first use: its sockets stay open between runs.
let agent: Agent | undefined;

/** One request on this thread's keep-alive agent: the task green and the cluster run per URL. */
export function fetchTimed(url: string): Promise<Fetched> {
  return timedGet((agent ??= keepAliveAgent()), url);
}

/**
 * Fetches `urls` with `concurrency` requests in flight, in order of the list: the task a thread
 * or process runs for its share, since a pool worker runs one task at a time.
 */
export async function fetchBatch(urls: string[], concurrency: number): Promise<Fetched[]> {
  const results: Fetched[] = new Array(urls.length);
  let next = 0;
  const loop = async (): Promise<void> => {
    while (next < urls.length) {
      const i = next++;
      results[i] = await fetchTimed(urls[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, loop));
  return results;
}

export default defineTasks(import.meta.url, { fetchTimed, fetchBatch }, { namespace: 'weft.bench.io' });
