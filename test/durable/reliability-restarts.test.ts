// Reliability of the broker-backed cluster (issue 10): the server restarts mid-run. Redis and
// NATS are servers of the test's own (redis-server with an append-only file, nats-server with
// JetStream on disk), stopped with SIGTERM and started again on the same port and directory;
// RabbitMQ is the shared one behind a TcpRelay whose connections are all cut. Nobody helps the
// submitter or the workers: they must reconnect by themselves, and every future must settle
// once with its value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterExecutor } from '../../src/index.js';
import { removeQueues } from '../../src/broker/remove-queues.js';
import rel, { type LedgerValue } from '../fixtures/reliability-tasks.js';
import { TcpRelay } from '../broker/transport-helpers.js';
import { tempDir } from '../helpers.js';
import { freshQueue, startWorker, type FleetWorker } from './fleet.js';
import {
  Ledger, REL_TASKS, SettleLog, forgetRedisResults, freePort, ownNats, ownRedis, waitUntil, within, wrongValues, type OwnServer,
} from './reliability-helpers.js';

const FLEET = 3;

interface Run {
  url: string;
  tasks: number;
  /** Tasks the submitter keeps on the broker at once (it publishes more as they finish). */
  concurrency?: number;
  resultBackend?: string;
  workerArgs?: string[];
  /** The fault, injected once 30% of the futures settled; resolves when the server is back. */
  fault(): Promise<void>;
}

interface Outcome {
  values: LedgerValue[];
  ids: string[];
  ledger: Ledger;
  seconds: number;
  /** From the server being back (the fault over) to the first future settled after it. */
  recoveredAfter: number;
  /** From the server being back to the last future settled. */
  finishedAfter: number;
  /** From the server being back to the submitter's first connection event after the fault (negative: before it was back). */
  noticedAfter: number;
  connectionErrors: number;
  workers: FleetWorker[];
}

/** Runs `tasks` ledgered tasks on a fleet through the fault; checks that every future settles once with its value. */
async function runThrough(run: Run, label: string): Promise<Outcome> {
  const queue = freshQueue(label);
  const ledger = new Ledger(join(tempDir(), 'ledger'));
  const extra = run.workerArgs ?? [];
  const workers = await Promise.all(Array.from({ length: FLEET }, () => startWorker(run.url, { queues: [queue], tasks: [REL_TASKS], pool: 'green', concurrency: 8, extra })));
  const cluster = new ClusterExecutor({
    broker: run.url, queue, ...(run.concurrency ? { concurrency: run.concurrency } : {}), ...(run.resultBackend ? { resultBackend: run.resultBackend } : {}),
  });
  let connectionErrors = 0;
  let noticedAt = 0;
  let faultAt = Infinity;
  cluster.on('connection-error', () => {
    connectionErrors++;
    if (noticedAt === 0 && Date.now() >= faultAt) noticedAt = Date.now();
  });
  const exited = new Set<FleetWorker>();
  for (const worker of workers) void worker.exited.then(() => exited.add(worker));
  try {
    await within(Promise.all(workers.map((w) => w.ready)), 20_000, `${FLEET} workers to consume`);
    const started = Date.now();
    const futures = Array.from({ length: run.tasks }, (_, i) => cluster.submit(rel.ledgered, i, 2, ledger.path));
    const log = new SettleLog(futures);
    const all = Promise.all(futures);
    all.catch(() => {});
    await waitUntil(() => log.settled >= run.tasks * 0.3, 30_000, `30% of the ${run.tasks} futures to settle before the fault`);
    faultAt = Date.now();
    await run.fault();
    const backAt = Date.now();
    const values = await within(all, 40_000, `all ${run.tasks} futures to settle after the fault (${log.settled} had)`);
    const seconds = (Date.now() - started) / 1000;
    assert.deepEqual(wrongValues(values), [], 'futures with a wrong value');
    assert.deepEqual(log.notOnce(), [], 'futures that did not settle exactly once');
    assert.equal(ledger.read().finishes.size, run.tasks, 'every task ran to its end at least once');
    assert.ok(connectionErrors > 0, 'the submitter never noticed the fault: nothing was tested');
    for (const worker of workers) assert.ok(!exited.has(worker), `worker ${worker.pid} exited instead of reconnecting by itself:\n${worker.output()}`);
    const recoveredAfter = (log.firstAfter(backAt) ?? Date.now()) - backAt;
    const finishedAfter = Math.max(...log.times) - backAt;
    return { values, ids: futures.map((f) => f.id), ledger, seconds, recoveredAfter, finishedAfter, noticedAfter: noticedAt - backAt, connectionErrors, workers };
  } finally {
    await cluster.shutdown({ cancelPending: true });
    for (const worker of workers) worker.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await removeQueues(run.url, [queue, `${queue}.dead`]).catch(() => {});
  }
}

/** Every outcome is in the store after the run, as the futures had it: none was lost to the restart. */
async function checkStored(url: string, outcome: Outcome, resultBackend?: string): Promise<void> {
  const reader = new ClusterExecutor({ broker: url, ...(resultBackend ? { resultBackend } : {}) });
  try {
    const stored = await within(Promise.all(outcome.ids.map((id) => reader.result<LedgerValue>(id))), 20_000, 'a new submitter to read every outcome from the store');
    assert.deepEqual(stored, outcome.values, 'the stored outcomes are the ones the futures settled with');
  } finally {
    await reader.shutdown();
  }
}

/** Stops the server with SIGTERM, waits `downMs`, starts it again on the same port and data directory. */
function restart(server: OwnServer, downMs: number, times: { down: number; up: number }): () => Promise<void> {
  return async () => {
    const stopping = Date.now();
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await server.start();
    times.down = Date.now() - stopping;
    times.up = Date.now();
  };
}

const twiceText = (ledger: Ledger) => `tasks run twice: ${ledger.twice().finished}`;

test('redis-server restarted (SIGTERM, same port and append-only file) with 5,000 tasks in flight: every future settles once with its value; no stored outcome lost', { timeout: 60_000 }, async (t) => {
  const port = await freePort();
  const dir = tempDir();
  const server = ownRedis(port, dir);
  await server.start();
  const url = `redis://127.0.0.1:${port}?redeliverAfter=1000`;
  const times = { down: 0, up: 0 };
  try {
    const outcome = await runThrough({ url, tasks: 5000, fault: restart(server, 0, times) }, 'restart-redis');
    await checkStored(url, outcome);
    t.diagnostic(`redis restart: down ${times.down} ms; after it was back: the submitter heard of it in ${outcome.noticedAfter} ms, the first future settled in ${outcome.recoveredAfter} ms, the last in ${outcome.finishedAfter} ms; 5,000 tasks in ${outcome.seconds.toFixed(1)} s; ${twiceText(outcome.ledger)}; submitter connection events: ${outcome.connectionErrors}`);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nats-server restarted (SIGTERM, same port and JetStream directory, down 2 s) while a submitter keeps 500 of 5,000 tasks on it: every future settles once with its value; no stored outcome lost', { timeout: 60_000 }, async (t) => {
  const port = await freePort();
  const dir = tempDir();
  const server = ownNats(port, dir);
  await server.start();
  const url = `nats://127.0.0.1:${port}?redeliverAfter=1000`;
  const times = { down: 0, up: 0 };
  try {
    const outcome = await runThrough({ url, tasks: 5000, concurrency: 500, fault: restart(server, 2000, times) }, 'restart-nats');
    await checkStored(url, outcome);
    t.diagnostic(`nats restart: down ${times.down} ms; after it was back: the submitter heard of it in ${outcome.noticedAfter} ms, the first future settled in ${outcome.recoveredAfter} ms, the last in ${outcome.finishedAfter} ms; 5,000 tasks in ${outcome.seconds.toFixed(1)} s; ${twiceText(outcome.ledger)}; submitter connection events: ${outcome.connectionErrors}`);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const resultBackend of [undefined, 'redis://127.0.0.1:6379']) {
  const what = resultBackend ? 'with a Redis result backend' : 'without a result store (the submitter publishes its tasks in flight again)';
  test(`rabbitmq: every connection cut mid-run through a relay, ${what}: every future settles once with its value`, { timeout: 60_000 }, async (t) => {
    const relay = await TcpRelay.start(5672);
    const url = `amqp://guest:guest@127.0.0.1:${relay.port}`;
    let ids: string[] = [];
    try {
      const outcome = await runThrough({
        url, tasks: 2000, resultBackend, workerArgs: resultBackend ? ['--result-backend', resultBackend] : [], fault: async () => relay.cut(),
      }, resultBackend ? 'cut-amqp-store' : 'cut-amqp');
      ids = outcome.ids;
      for (const worker of outcome.workers) assert.match(worker.output(), /lost the broker/, 'the worker saw its connection go');
      if (resultBackend) await checkStored(url, outcome, resultBackend);
      t.diagnostic(`rabbitmq cut ${resultBackend ? 'with' : 'without'} a result backend: after the cut: the submitter heard of it in ${outcome.noticedAfter} ms, the first future settled in ${outcome.recoveredAfter} ms, the last in ${outcome.finishedAfter} ms; 2,000 tasks in ${outcome.seconds.toFixed(1)} s; ${twiceText(outcome.ledger)}`);
    } finally {
      await relay.shut();
      if (resultBackend) await forgetRedisResults(resultBackend, ids);
    }
  });
}
