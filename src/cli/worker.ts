/**
 * `weft worker --connect tcp://HOST:PORT --tasks ./tasks.js [--tasks ...] --pool threads
 * --concurrency N --authkey-file F`: joins a cluster and runs its tasks until stopped. SIGTERM
 * or a first SIGINT drains (finishes what it holds, takes nothing new, then exits); a second
 * SIGINT exits at once.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { POOL_KINDS, type PoolKind } from '../cluster/protocol.js';
import { AuthenticationError } from '../core/errors.js';
import { logger, type LogLevel } from '../log.js';
import { installLogger, intValue, listValue, LOG_OPTIONS, LOG_USAGE, oneOf, parseCommand, stringValue, UsageError, type CommandSpec } from './command.js';
import { readAuthkey } from './listen.js';

export function workerHelp(): string {
  return [
    'usage: weft worker --connect tcp://HOST:PORT --tasks FILE [--tasks FILE ...] (--authkey-file F | WEFT_AUTHKEY=...)',
    '      joins a ClusterExecutor and runs the tasks those modules define (by name: namespace.key)',
    `      --pool P          ${POOL_KINDS.join(' | ')}: where tasks run (default threads)`,
    '      --concurrency N   tasks at once (default: the number of CPUs; inline: 1)',
    '      --name NAME       shown by `weft status` (default HOST:PID)',
    '      --allow-functions also run plain functions the caller ships as source',
    '      --metrics-port N  serve Prometheus metrics on http://127.0.0.1:N/metrics (needs prom-client; either mode)',
    '      SIGTERM or Ctrl-C drains (finishes its tasks, takes no new ones); Ctrl-C twice exits at once',
    '       weft worker --broker URL --tasks FILE [--tasks FILE ...] [--queues a,b] [--pool P] [--concurrency N]',
    '      takes tasks from a broker (redis://, amqp://, nats://, weft://) for ClusterExecutor({ broker })',
    '      --queues a,b         queues to take tasks from (default weft)',
    '      --result-backend URL where outcomes are stored (default: the broker\'s server where it can; none)',
    '      --prefetch N         messages held per queue (default 4 x concurrency)',
    '      an outcome is stored before its task is acknowledged; SIGTERM drains',
    LOG_USAGE,
  ].join('\n');
}

const spec: CommandSpec = {
  name: 'weft worker',
  usage: workerHelp,
  options: {
    connect: { type: 'string' },
    broker: { type: 'string' },
    tasks: { type: 'string', multiple: true },
    pool: { type: 'string' },
    concurrency: { type: 'string' },
    name: { type: 'string' },
    'allow-functions': { type: 'boolean' },
    'authkey-file': { type: 'string' },
    queues: { type: 'string' },
    'result-backend': { type: 'string' },
    prefetch: { type: 'string' },
    'metrics-port': { type: 'string' },
    ...LOG_OPTIONS,
  },
};

export async function runWorker(argv: string[]): Promise<number> {
  const { values, help } = parseCommand(spec, argv);
  if (help) {
    console.log(workerHelp());
    return 0;
  }
  const connect = stringValue(values, 'connect');
  const broker = stringValue(values, 'broker');
  if (connect === undefined && broker === undefined) throw new UsageError('--connect tcp://HOST:PORT or --broker URL is required', spec.usage());
  if (connect !== undefined && broker !== undefined) throw new UsageError('give --connect or --broker, not both', spec.usage());
  const tasks = (values.tasks as string[] | undefined) ?? [];
  if (tasks.length === 0) throw new UsageError('at least one --tasks FILE is required', spec.usage());
  for (const file of tasks) {
    // A package (`--tasks my-tasks`, `--tasks @org/tasks`) or a file: URL is resolved by import(); a path must exist.
    const isPath = file.startsWith('.') || file.startsWith('/') || (!file.startsWith('@') && !file.startsWith('file:') && (file.includes('/') || /\.[cm]?js$/.test(file)));
    if (isPath && !existsSync(resolve(file))) {
      throw new UsageError(`--tasks: no such file ${file} (resolved to ${resolve(file)})`, spec.usage());
    }
  }
  const pool = oneOf<PoolKind>(spec, values, 'pool', POOL_KINDS, 'threads');
  const concurrency = intValue(spec, values, 'concurrency');
  const name = stringValue(values, 'name');
  installLogger(spec, values);
  const log = (line: string, level: LogLevel = 'info') => logger()[level](`weft worker: ${line}`);
  const metricsPort = intValue(spec, values, 'metrics-port', { min: 0, max: 65535 });
  if (metricsPort !== undefined) {
    const { exposeMetrics } = await import('../observe/endpoint.js');
    log(`metrics on http://127.0.0.1:${(await exposeMetrics({ port: metricsPort })).port}/metrics`);
  }
  if (broker !== undefined) {
    for (const flag of ['authkey-file', 'allow-functions']) if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with --connect`, spec.usage());
    const prefetch = intValue(spec, values, 'prefetch');
    const resultBackend = stringValue(values, 'result-backend');
    const { BrokerWorker } = await import('../cluster/durable/broker-worker.js');
    const worker = await BrokerWorker.start({
      broker,
      tasks,
      pool,
      concurrency,
      prefetch,
      name,
      queues: listValue(values, 'queues'),
      resultBackend: resultBackend === 'none' ? false : resultBackend,
      log,
    });
    return serveUntilStopped(worker, `${worker.tasks.length} task(s) loaded: ${worker.tasks.join(', ')}`);
  }
  for (const flag of ['queues', 'result-backend', 'prefetch']) if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with --broker`, spec.usage());
  const authkey = readAuthkey(values, spec.usage);
  const { ClusterWorker } = await import('../cluster/worker.js');
  const worker = await ClusterWorker.start({
    connect: connect!,
    authkey,
    tasks,
    pool,
    concurrency,
    name,
    allowFunctions: values['allow-functions'] === true,
    log,
  });
  return serveUntilStopped(worker, `${worker.tasks.length} task(s) loaded: ${worker.tasks.join(', ')}`);
}

/** Runs until drained: SIGTERM or a first SIGINT drains, a second SIGINT exits at once. */
async function serveUntilStopped(worker: { drain(): Promise<void>; done: Promise<void> }, loaded: string): Promise<number> {
  logger().info(`weft worker: ${loaded}`);
  let interrupts = 0;
  process.on('SIGINT', () => {
    if (++interrupts > 1) {
      logger().warn('weft worker: second SIGINT, exiting now');
      process.exit(130);
    }
    void worker.drain();
  });
  process.on('SIGTERM', () => void worker.drain());
  try {
    await worker.done;
  } catch (error) {
    if (error instanceof AuthenticationError) {
      logger().error(`weft worker: ${error.message}`);
      return 3;
    }
    throw error;
  }
  logger().info('weft worker: stopped');
  return 0;
}
