/**
 * A BullMQ worker process for `weft bench cluster --broker redis://… --peers` (bullmq-peer.ts
 * forks two). It runs the bench's jobs by name, `noop` (returns its data) and `pi` (Monte Carlo
 * hits of `data` points: the same function weft's workers run), tells its parent over IPC once
 * its connection is ready, and closes when its parent goes away or sends SIGTERM.
 * Settings come as JSON in WEFT_BULLMQ_WORKER: { queue, connection, concurrency, prefix }.
 */
import { Worker } from 'bullmq';
import { monteCarloHits } from './tasks.js';

const raw = process.env.WEFT_BULLMQ_WORKER;
if (!raw) {
  console.error('weft bench: WEFT_BULLMQ_WORKER is not set; this module is started by `weft bench cluster --peers`');
  process.exit(2);
}
const { queue, connection, concurrency, prefix } = JSON.parse(raw) as {
  queue: string; connection: Record<string, unknown>; concurrency: number; prefix: string;
};

const worker = new Worker(queue, async (job) => (job.name === 'pi' ? monteCarloHits(job.data as number) : job.data), {
  connection: { ...connection, maxRetriesPerRequest: null },
  concurrency,
  prefix,
});
worker.on('error', (error) => console.error(`weft bench: BullMQ worker: ${error.message}`));

let closing = false;
const stop = () => {
  if (closing) return;
  closing = true;
  void worker.close().finally(() => process.exit(0));
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
await worker.waitUntilReady();
process.send?.({ weft: 'ready' });
