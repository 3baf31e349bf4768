// Tasks the dashboard tests drive from outside: each step waits for a marker file the test
// writes, so what the page shows (progress, a failure, a recovery) follows the test, not a clock.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineTasks, taskContext } from '../../src/index.js';

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const abort = () => { clearTimeout(timer); reject(signal.reason); };
    const timer = setTimeout(() => { signal.removeEventListener('abort', abort); resolve(); }, ms);
    signal.addEventListener('abort', abort, { once: true });
  });
}

async function markerAppears(path: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${path}`);
    await pause(10, signal);
  }
}

export default defineTasks(import.meta.url, {
  /** Reports { done: i, total } and waits for `dir/step-i` before each next step. */
  async stepped(dir: string, total: number): Promise<number> {
    const context = taskContext();
    for (let done = 1; done <= total; done++) {
      context.progress({ done, total });
      await markerAppears(join(dir, `step-${done}`), context.signal);
    }
    return total;
  },
  /** Fails while `marker` is missing: a dead letter until the test writes it, then it recovers. */
  needsMarker(marker: string): string {
    if (!existsSync(marker)) throw new Error(`the marker ${marker} is missing`);
    return 'recovered';
  },
  /** Runs until revoked. */
  async untilRevoked(): Promise<string> {
    const context = taskContext();
    const { signal } = context;
    context.progress('waiting for a revoke');
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    throw signal.reason;
  },
  /** A task that takes `ms`: load for the throughput chart. */
  async busy(ms: number): Promise<number> {
    await pause(ms, taskContext().signal);
    return ms;
  },
  square(x: number): number {
    return x * x;
  },
}, { namespace: 'dash' });
