/**
 * Entry of a worker process that a ClusterExecutor starts on its own host (`localWorkers`). Its
 * settings come in WEFT_LOCAL_WORKER (JSON; the authkey in base64), removed from the environment
 * at once so the pool's own children do not inherit it. It imports task modules by URL, as
 * the caller's tasks live on this host, and exits when its parent goes away (the IPC channel
 * closes), so a crashed caller leaves no workers behind.
 */
import { ClusterWorker } from './worker.js';

const raw = process.env.WEFT_LOCAL_WORKER;
delete process.env.WEFT_LOCAL_WORKER;
if (!raw) {
  console.error('weft local worker: WEFT_LOCAL_WORKER is not set; this module is started by ClusterExecutor');
  process.exit(2);
}
const config = JSON.parse(raw) as { connect: string; authkey: string; pool: 'threads' | 'processes' | 'green' | 'inline'; concurrency: number; allowFunctions: boolean; name: string };

process.on('disconnect', () => process.exit(0));
const worker = await ClusterWorker.start({
  connect: config.connect,
  authkey: Buffer.from(config.authkey, 'base64'),
  pool: config.pool,
  concurrency: config.concurrency,
  allowFunctions: config.allowFunctions,
  anyModule: true,
  name: config.name,
});
process.on('SIGTERM', () => void worker.drain());
worker.done.then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`weft local worker: ${error.message}`);
    process.exit(1);
  },
);
