/**
 * `weft worker --connect tcp://HOST:PORT --tasks ./tasks.js [--tasks ...] --pool threads
 * --concurrency N --authkey-file F`: joins a cluster and runs its tasks until stopped. SIGTERM
 * or a first SIGINT drains (finishes what it holds, takes nothing new, then exits); a second
 * SIGINT exits at once.
 */
import { BrokerWorker } from '../cluster/durable/broker-worker.js';
import { ClusterWorker } from '../cluster/worker.js';
import { POOL_KINDS, type PoolKind } from '../cluster/protocol.js';
import { AuthenticationError } from '../core/errors.js';
import type { ParsedArgs } from './args.js';
import { readAuthkey } from './serve.js';

export function workerHelp(): string {
  return [
    'weft worker --connect tcp://HOST:PORT --tasks FILE [--tasks FILE ...] (--authkey-file F | WEFT_AUTHKEY=...)',
    '      joins a ClusterExecutor and runs the tasks those modules define (by name: namespace.key)',
    `      --pool P          ${POOL_KINDS.join(' | ')}: where tasks run (default threads)`,
    '      --concurrency N   tasks at once (default: the number of CPUs; inline: 1)',
    '      --name NAME       shown by `weft status` (default HOST:PID)',
    '      --allow-functions also run plain functions the caller ships as source',
    '      SIGTERM or Ctrl-C drains (finishes its tasks, takes no new ones); Ctrl-C twice exits at once',
    'weft worker --broker URL --tasks FILE [--tasks FILE ...] [--queues a,b] [--pool P] [--concurrency N]',
    '      takes tasks from a broker (redis://, amqp://, nats://, weft://) for ClusterExecutor({ broker })',
    '      --queues a,b         queues to take tasks from (default weft)',
    '      --result-backend URL where outcomes are stored (default: the broker\'s server where it can; none)',
    '      --prefetch N         messages held per queue (default 4 x concurrency)',
    '      an outcome is stored before its task is acknowledged; SIGTERM drains',
  ].join('\n');
}

export async function runWorker({ options, all }: ParsedArgs): Promise<number> {
  if (options.help) {
    console.log(workerHelp());
    return 0;
  }
  const connect = options.connect;
  const broker = options.broker;
  if (typeof connect !== 'string' && typeof broker !== 'string') throw new Error(`--connect tcp://HOST:PORT or --broker URL is required\n\n${workerHelp()}`);
  if (typeof connect === 'string' && typeof broker === 'string') throw new Error('give --connect or --broker, not both');
  const tasks = all.tasks ?? [];
  if (tasks.length === 0) throw new Error(`at least one --tasks FILE is required\n\n${workerHelp()}`);
  const pool = (options.pool ?? 'threads') as PoolKind;
  if (!POOL_KINDS.includes(pool)) throw new Error(`--pool expects one of ${POOL_KINDS.join(', ')}, got ${JSON.stringify(options.pool)}`);
  const concurrency = options.concurrency === undefined ? undefined : Number(options.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new Error(`--concurrency expects a positive integer, got ${JSON.stringify(options.concurrency)}`);
  }
  const name = typeof options.name === 'string' ? options.name : undefined;
  const log = (line: string) => console.log(`weft worker: ${line}`);
  if (typeof broker === 'string') {
    const prefetch = options.prefetch === undefined ? undefined : Number(options.prefetch);
    const resultBackend = options['result-backend'];
    const worker = await BrokerWorker.start({
      broker,
      tasks,
      pool,
      concurrency,
      prefetch,
      name,
      queues: typeof options.queues === 'string' ? options.queues.split(',').map((q) => q.trim()).filter(Boolean) : undefined,
      resultBackend: resultBackend === 'none' ? false : typeof resultBackend === 'string' ? resultBackend : undefined,
      log,
    });
    return serveUntilStopped(worker, `${worker.tasks.length} task(s) loaded: ${worker.tasks.join(', ')}`);
  }
  const worker = await ClusterWorker.start({
    connect: connect as string,
    authkey: readAuthkey(options),
    tasks,
    pool,
    concurrency,
    name,
    allowFunctions: options['allow-functions'] === true,
    log,
  });
  return serveUntilStopped(worker, `${worker.tasks.length} task(s) loaded: ${worker.tasks.join(', ')}`);
}

/** Runs until drained: SIGTERM or a first SIGINT drains, a second SIGINT exits at once. */
async function serveUntilStopped(worker: { drain(): Promise<void>; done: Promise<void> }, loaded: string): Promise<number> {
  console.log(`weft worker: ${loaded}`);
  let interrupts = 0;
  process.on('SIGINT', () => {
    if (++interrupts > 1) {
      console.log('weft worker: second SIGINT, exiting now');
      process.exit(130);
    }
    void worker.drain();
  });
  process.on('SIGTERM', () => void worker.drain());
  try {
    await worker.done;
  } catch (error) {
    if (error instanceof AuthenticationError) {
      console.error(`weft worker: ${error.message}`);
      return 3;
    }
    throw error;
  }
  console.log('weft worker: stopped');
  return 0;
}
