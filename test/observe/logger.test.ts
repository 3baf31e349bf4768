// weft's own diagnostics go through the logger set with setLogger(): a pool worker lost, a task
// dead-lettered on the broker-backed cluster, a worker that cannot reach its broker.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ClusterExecutor, ProcessPool, setLogger, WorkerCrashedError, type LogFields, type Logger, type LogLevel } from '../../src/index.js';
import { BrokerWorker } from '../../src/cluster/durable/broker-worker.js';
import crash from '../fixtures/crash-tasks.js';
import tasks from '../fixtures/observe-tasks.js';
import { freshQueue } from '../durable/fleet.js';
import { FIXTURES } from '../cluster/helpers.js';

const lines: { level: LogLevel; message: string; fields: LogFields | undefined }[] = [];
const capture = (level: LogLevel) => (message: string, fields?: LogFields) => void lines.push({ level, message, fields });
const captured: Logger = { debug: capture('debug'), info: capture('info'), warn: capture('warn'), error: capture('error') };

before(() => setLogger(captured));
after(() => setLogger(undefined));

test('a pool worker that dies holding a task is reported as lost', async () => {
  lines.length = 0;
  const pool = new ProcessPool({ workers: 1 });
  try {
    await assert.rejects(pool.submit(crash.exitWith, 3), WorkerCrashedError);
  } finally {
    await pool.shutdown();
  }
  const lost = lines.filter((l) => l.message === 'ProcessPool worker lost');
  assert.equal(lost.length, 1, JSON.stringify(lines));
  assert.equal(lost[0]!.level, 'warn');
  assert.equal(lost[0]!.fields?.tasks, 1);
});

test('a dead letter on the broker-backed cluster is reported by the worker that stored it', async () => {
  lines.length = 0;
  const broker = `memory://logger-${process.pid}`;
  const queue = freshQueue('logger');
  const worker = await BrokerWorker.start({ broker, queues: [queue], tasks: [join(FIXTURES, 'observe-tasks.js')], pool: 'inline' });
  const cluster = new ClusterExecutor({ broker, queue });
  try {
    await worker.ready();
    await assert.rejects(cluster.submit(tasks.fail, 'for the logger'), /for the logger/);
  } finally {
    await cluster.shutdown();
    await worker.close();
  }
  const dead = lines.filter((l) => l.message === 'task dead-lettered after its last attempt');
  assert.equal(dead.length, 1, JSON.stringify(lines));
  assert.equal(dead[0]!.fields?.task, tasks.fail.taskName);
  assert.equal(dead[0]!.fields?.queue, queue);
});

test('a broker worker that cannot reach its broker says so at warn level, without a log option', async () => {
  lines.length = 0;
  const worker = await BrokerWorker.start({ broker: 'redis://127.0.0.1:1', resultBackend: false, queues: ['never'], tasks: [join(FIXTURES, 'observe-tasks.js')], pool: 'inline', maxReconnectDelay: 50 });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no warning about the unreachable broker within 10 s: ${JSON.stringify(lines)}`)), 10_000);
      const poll = setInterval(() => {
        if (!lines.some((l) => l.level === 'warn' && /cannot use redis:\/\/127\.0\.0\.1:1/.test(l.message))) return;
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }, 10);
    });
  } finally {
    await worker.close();
  }
  assert.ok(lines.every((l) => l.fields?.worker !== undefined), 'every line names the worker');
});
