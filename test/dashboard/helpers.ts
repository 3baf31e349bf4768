// Reading the dashboard the way a client does: its event stream, parsed, and its actions.
import type { Snapshot } from '../../src/dashboard/types.js';

/**
 * Opens /events with the token and resolves with the first snapshot `accept` passes; fails
 * after `timeoutMs` naming `what` and the last snapshot seen.
 */
export async function snapshotWhere(base: string, token: string, accept: (s: Snapshot) => boolean, what: string, timeoutMs = 10_000): Promise<Snapshot> {
  const controller = new AbortController();
  let last: Snapshot | undefined;
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(new URL('/events', base), { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    if (response.status !== 200) throw new Error(`/events answered ${response.status}`);
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) throw new Error('/events is not an event stream');
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (!event.includes('event: snapshot') || !data) continue;
        last = JSON.parse(data) as Snapshot;
        if (accept(last)) return last;
      }
    }
    throw new Error('the event stream ended');
  } catch (error) {
    if (controller.signal.aborted) throw new Error(`timed out after ${timeoutMs} ms waiting for a snapshot where ${what}; last: ${JSON.stringify(last)?.slice(0, 2000)}`);
    throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

export async function post(base: string, path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const response = await fetch(new URL(path, base), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}
