// `weft bench cluster --broker`: the broker-backed cluster next to ThreadPool, the embedded
// cluster and BullMQ, with tiny counts on the Redis on loopback and in memory; an unreachable
// server is a skipped row; the queues are gone afterwards; a worker answering wrongly fails the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { ClusterBenchRow } from '../../src/bench/cluster.js';
import type { ClusterGoal } from '../../src/bench/cluster-goals.js';
import { removeQueues } from '../../src/broker/remove-queues.js';
import { CLI, FIXTURES } from '../cluster/helpers.js';
import { freshQueue, startWorker } from '../durable/fleet.js';

const REDIS = 'redis://127.0.0.1:6379';
const TINY = ['--trivial', '200', '--calls', '40', '--tasks', '40', '--samples', '500', '--repeats', '1'];

test('bench cluster --broker --peers --json: every row measured, BullMQ beside Redis, goals judged, queues removed', async () => {
  const run = spawnSync(process.execPath, [CLI, 'bench', 'cluster', '--broker', 'memory,redis,redis://:secret@127.0.0.1:1', '--peers', ...TINY, '--json'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  const data = JSON.parse(run.stdout) as { rows: ClusterBenchRow[]; goals: ClusterGoal[] };
  assert.deepEqual(data.rows.map((r) => r.executor), [
    'ThreadPool(2)', 'cluster (2 local workers)', 'cluster (memory)', 'cluster (redis)', 'bullmq (redis)',
    'cluster (redis://:***@127.0.0.1:1)', 'bullmq (redis://:***@127.0.0.1:1)',
  ]);
  const [unreachable, unreachablePeer] = data.rows.slice(-2);
  assert.match(unreachable!.skipped!, /could not connect to redis at 127\.0\.0\.1:1/);
  assert.match(unreachablePeer!.skipped!, /could not reach Redis at 127\.0\.0\.1:1/);
  assert.doesNotMatch(run.stdout, /secret/);
  for (const row of data.rows.slice(0, -2)) {
    assert.equal(row.skipped, undefined, `${row.executor} skipped: ${row.skipped}`);
    assert.ok(row.tasksPerSecond! > 0 && row.piSeconds! > 0 && row.piSpeedup! > 0, row.executor);
    assert.ok(row.rttMedianUs! > 0 && row.rttP90Us! >= row.rttMedianUs!, `${row.executor}: median ${row.rttMedianUs}, p90 ${row.rttP90Us}`);
    assert.ok(row.cpuUsPerTask! > 0, `${row.executor}: CPU per task ${row.cpuUsPerTask}`);
    assert.equal(row.serverCpuUsPerTask !== undefined, row.broker === 'redis', `${row.executor}: the server's CPU is read on Redis only`);
  }
  assert.deepEqual(data.goals.filter((g) => g.row === 'cluster (redis)').map((g) => g.goal), [
    ">= 3x bullmq (redis)'s jobs/s", 'median round trip <= 1 ms', 'pi group >= 1.5x the loop',
  ]);
  const redisGoals = data.goals.filter((g) => g.row === 'cluster (redis)');
  const redisRow = data.rows.find((r) => r.executor === 'cluster (redis)')!;
  const bullRow = data.rows.find((r) => r.executor === 'bullmq (redis)')!;
  assert.equal(redisGoals[0]!.met, redisRow.tasksPerSecond! >= 3 * bullRow.tasksPerSecond!);
  assert.equal(redisGoals[1]!.met, redisRow.rttMedianUs! <= 1000);
  // What the bench made on the server is gone (results expire by their short ttl).
  const redis = new Redis(REDIS);
  try {
    for (const row of [redisRow, bullRow]) {
      assert.ok(row.queue, `${row.executor} names its queue`);
      assert.deepEqual(await redis.keys(`*${row.queue}*`), [], `${row.executor} left keys`);
    }
  } finally {
    redis.disconnect();
  }
});

test('bench cluster: a table with the broker rows and the verdicts of issue 10; --peers adds BullMQ beside Redis only', () => {
  const run = spawnSync(process.execPath, [CLI, 'bench', 'cluster', '--broker', 'memory,weft', '--peers', ...TINY], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^cluster \(weft\)\s+[\d,]+\s/m);
  assert.doesNotMatch(run.stdout, /^bullmq/m);
  assert.match(run.stdout, /executor\s+tasks\/s\s+CPU µs\/task\s+rtt median µs\s+rtt p90 µs\s+pi group s\s+pi speedup/);
  assert.match(run.stdout, /^cluster \(memory\)\s+[\d,]+\s+\d+\s+[\d.,]+\s+[\d.,]+\s+[\d.]+\s+\d+\.\d\dx$/m);
  assert.match(run.stdout, /^cluster \(memory\): \d+ µs of CPU per trivial task \(this process and the workers \d+, the server not read\): at most ~[\d,]+ tasks\/s on \d+ cores$/m);
  assert.match(run.stdout, /^(ok {6}|MISSED {2})cluster \(memory\): median round trip <= 1 ms \(\d+ µs; issue 10\)$/m);
  assert.match(run.stdout, /^(ok {6}|MISSED {2})cluster \(memory\): pi group >= 1\.5x the loop \(\d+\.\d\dx; issue 10\)$/m);
  assert.match(run.stdout, /^cluster \(memory\) \/ cluster \(2 local workers\): throughput \d+\.\d\dx/m);
});

test('bench cluster: a broker worker that answers wrongly fails the run', async () => {
  const queue = freshQueue('bench-wrong');
  const rogue = await startWorker(REDIS, { queues: [queue], pool: 'inline', concurrency: 1, tasks: [join(FIXTURES, 'wrong-bench-tasks.js')] });
  try {
    await rogue.ready;
    const child = spawn(process.execPath, [CLI, 'bench', 'cluster', '--broker', 'redis', '--broker-workers', '0', '--queue', queue, ...TINY], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk; });
    child.stdout!.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const [code] = await once(child, 'exit');
    clearTimeout(timer);
    assert.equal(code, 1, `the bench should fail on wrong answers (killed after 60 s if it hung); stderr:\n${stderr}`);
    assert.match(stderr, /cluster \(redis\): noop\(\d+\) returned \d+/);
  } finally {
    await rogue.stop();
    await removeQueues(REDIS, [queue, `${queue}.dead`]);
  }
});

test('bench cluster --broker-workers 0 without --queue is refused', () => {
  const run = spawnSync(process.execPath, [CLI, 'bench', 'cluster', '--broker', 'redis', '--broker-workers', '0'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 2, 'a usage error');
  assert.match(run.stderr, /--broker-workers 0 measures workers you started: name their queue with --queue NAME/);
});
