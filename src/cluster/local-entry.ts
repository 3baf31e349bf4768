/**
 * Entry of a worker process that a ClusterExecutor starts on its own host (`localWorkers`). Its
 * settings come in WEFT_LOCAL_WORKER (JSON), removed from the environment at once so the pool's
 * own children do not inherit it. It exits when its parent goes away (the IPC channel closes),
 * so a crashed caller leaves no workers behind.
 *
 * - mode 'connect': joins the embedded scheduler (authkey in base64) and imports task modules
 *   by URL, as the caller's tasks live on this host.
 * - mode 'broker': a `weft worker --broker` loading the caller's task modules; it tells the
 *   parent over IPC when it consumes.
 */
import { BrokerWorker } from './durable/broker-worker.js';
import type { PoolKind } from './protocol.js';
import { ClusterWorker } from './worker.js';
import { consoleLogger, logger, setLogger } from '../log.js';

const raw = process.env.WEFT_LOCAL_WORKER;
delete process.env.WEFT_LOCAL_WORKER;
if (!raw) {
  logger().error('weft local worker: WEFT_LOCAL_WORKER is not set; this module is started by ClusterExecutor');
  process.exit(2);
}
const config = JSON.parse(raw) as {
  mode: 'connect' | 'broker'; name: string; pool: PoolKind; concurrency: number;
  connect: string; authkey: string; allowFunctions: boolean;
  broker: string; resultBackend: string | false; resultTtl: number; queues: string[]; tasks: string[];
};

// Its diagnostics (reconnects, a lost broker) reach the parent's stderr, named after it: warnings
// and errors only, since its joining, consuming and draining are the parent's own doing, not news
// (a bench run printed some 300 such lines).
setLogger(consoleLogger({ level: 'warn', base: { localWorker: config.name } }));
process.on('disconnect', () => process.exit(0));
const worker = config.mode === 'broker'
  ? await BrokerWorker.start({
    broker: config.broker,
    resultBackend: config.resultBackend,
    resultTtl: config.resultTtl,
    queues: config.queues,
    tasks: config.tasks,
    pool: config.pool,
    concurrency: config.concurrency,
    name: config.name,
    log: (line, level = 'info') => { if (level !== 'debug' && !/^consuming /.test(line)) logger()[level](`weft local worker ${config.name}: ${line}`); },
  })
  : await ClusterWorker.start({
    connect: config.connect,
    authkey: Buffer.from(config.authkey, 'base64'),
    pool: config.pool,
    concurrency: config.concurrency,
    allowFunctions: config.allowFunctions,
    anyModule: true,
    name: config.name,
  });
if (worker instanceof BrokerWorker) void worker.ready().then(() => process.send?.({ weft: 'ready' }));
process.on('SIGTERM', () => void worker.drain());
worker.done.then(
  () => process.exit(0),
  (error: Error) => {
    logger().error(`weft local worker: ${error.message}`);
    process.exit(1);
  },
);
