// What the broker-backed cluster adds to the Executor contract: results from any process,
// many submitters on one fleet, revocation of queued tasks, routing, dead letters on the
// server, refused bodies, status, local workers. Cross-process cases run on Redis with real
// `weft worker --broker` processes; the rest on memory:// in this process.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Redis } from 'ioredis';
import { existsSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { CancelledError, ClusterExecutor, openBroker } from '../../src/index.js';
import { listDeadLetters, purgeDeadLetters, retryDeadLetter } from '../../src/cluster/durable/dead-letters.js';
import { brokerStatus } from '../../src/cluster/durable/status.js';
import { removeQueues } from '../../src/broker/remove-queues.js';
import tasks from '../fixtures/tasks.js';
import { firstProgress, markerWritten, tempDir, until } from '../helpers.js';
import { freshQueue, startWorker, type FleetWorker } from './fleet.js';
import { CLI } from '../cluster/helpers.js';

const execFileAsync = promisify(execFile);
/** Runs the weft CLI; rejects with its stderr in the message when it exits non-zero. */
async function run(args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(process.execPath, [CLI, ...args], { timeout: 30_000 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${e.message}\n${e.stderr ?? ''}`);
  }
}

const REDIS = 'redis://127.0.0.1:6379';

describe('the broker-backed cluster on Redis, with worker processes', () => {
  const queue = freshQueue('features');
  const other = freshQueue('other');
  const clusters: ClusterExecutor[] = [];
  const workers: FleetWorker[] = [];
  const cluster = (options: Partial<ConstructorParameters<typeof ClusterExecutor>[0]> = {}) => {
    const c = new ClusterExecutor({ broker: REDIS, queue, ...options } as ConstructorParameters<typeof ClusterExecutor>[0]);
    clusters.push(c);
    return c;
  };
  const worker = async (queues: string[], concurrency = 4, extra: string[] = []) => {
    const w = await startWorker(REDIS, { queues, concurrency, extra });
    workers.push(w);
    await w.ready;
    return w;
  };
  after(async () => {
    await Promise.all(clusters.map((c) => c.shutdown({ cancelPending: true })));
    await Promise.all(workers.map((w) => w.stop()));
    await removeQueues(REDIS, [queue, other, `${queue}.dead`, `${other}.dead`]);
  });

  test('two submitters share one fleet, each gets its own results, and either reads the other\'s by id', async () => {
    await worker([queue]);
    const [a, b] = [cluster(), cluster()];
    const fromA = Array.from({ length: 50 }, (_, i) => a.submit(tasks.square, i));
    const fromB = Array.from({ length: 50 }, (_, i) => b.submit(tasks.add, i, 1000));
    assert.deepEqual(await Promise.all(fromA), Array.from({ length: 50 }, (_, i) => i * i));
    assert.deepEqual(await Promise.all(fromB), Array.from({ length: 50 }, (_, i) => i + 1000));
    assert.notEqual(fromA[0]!.id, fromB[0]!.id, 'ids are unique across submitters');
    assert.equal(await b.result(fromA[7]!.id), 49, 'b reads a\'s result from the store');
    const third = cluster();
    assert.equal(await third.result(fromB[3]!.id), 1003, 'a new submitter reads it too');
    const failed = a.submit(tasks.fail, 'stored failure');
    await assert.rejects(failed, /stored failure/);
    await assert.rejects(third.result(failed.id), /stored failure/);
  });

  test('a task cancelled while it waits on the broker never runs, and reads as cancelled elsewhere', async () => {
    // One running and one held: the third task must still wait on the broker (prefetch 2).
    const w = await worker([other], 1, ['--prefetch', '2']);
    const submitter = cluster({ queue: other });
    const dir = tempDir();
    const blocker = submitter.submit(tasks.waitForAbort, join(dir, 'blocker'));
    await firstProgress(blocker);
    // The worker runs one task and holds one more; the third waits on the broker.
    const held = submitter.submit(tasks.sleepThen, 1, 'held');
    const queued = submitter.submit(tasks.touch, join(dir, 'queued'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(queued.state, 'running', 'it was sent to the broker');
    assert.equal(queued.cancel(), true);
    await assert.rejects(queued, CancelledError);
    await assert.rejects(cluster().result(queued.id), CancelledError);
    blocker.cancel();
    await markerWritten(join(dir, 'blocker'));
    assert.equal(await held, 'held');
    assert.equal(await submitter.submit(tasks.square, 5), 25, 'the queue moves on past the revoked task');
    assert.equal(existsSync(join(dir, 'queued')), false, 'the revoked task ran');
    await w.stop();
  });

  test('shutdown({ cancelPending: true }) with no worker cancels what waits on the broker and returns; a later worker does not run it', async () => {
    const lonely = freshQueue('lonely');
    const dir = tempDir();
    const submitter = new ClusterExecutor({ broker: REDIS, queue: lonely });
    const waiting = [submitter.submit(tasks.touch, join(dir, 'a')), submitter.submit(tasks.touch, join(dir, 'b'))];
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(waiting.map((f) => f.state), ['running', 'running'], 'both were sent to the broker');
    // It used to wait for their results forever: no worker was there to give them.
    await submitter.shutdown({ cancelPending: true });
    for (const future of waiting) await assert.rejects(future, CancelledError);
    const w = await worker([lonely], 1);
    const next = cluster({ queue: lonely });
    assert.equal(await next.submit(tasks.square, 6), 36, 'the queue moves on past the revoked tasks');
    await assert.rejects(next.result(waiting[0]!.id), CancelledError);
    assert.deepEqual([existsSync(join(dir, 'a')), existsSync(join(dir, 'b'))], [false, false], 'a revoked task ran');
    await w.stop();
    await removeQueues(REDIS, [lonely, `${lonely}.dead`]);
  });

  test('task.with({ queue }) and routes send tasks to another queue, served by its own workers', async () => {
    const w = await worker([other], 2);
    const submitter = cluster();
    assert.equal(await submitter.submit(tasks.square.with({ queue: other }), 9), 81);
    const routed = cluster({ routes: { square: other } });
    assert.equal(await routed.submit(tasks.square, 4), 16);
    const stats = await brokerStatus(REDIS, { queues: [other], wait: 500 });
    const me = stats.workers.find((info) => info.pid === w.pid);
    assert.ok(me, `the worker answered the status request: ${JSON.stringify(stats.workers.map((x) => x.pid))}`);
    assert.deepEqual(me.queues, [other]);
    assert.ok(me.completed >= 2, `it completed ${me.completed} tasks`);
    await w.stop();
  });

  test('a task that failed its last attempt is a dead letter on the server: list, retry, purge', async () => {
    await worker([queue]);
    const submitter = cluster();
    const future = submitter.submit(tasks.flaky.with({ retries: 1, retryDelay: 1 }), 5);
    await assert.rejects(future, /attempt 2 failed/);
    const letters = await listDeadLetters(REDIS, queue);
    const letter = letters.find((l) => l.id === future.id);
    assert.ok(letter, `the dead letter of ${future.id} is listed: ${JSON.stringify(letters.map((l) => l.id))}`);
    assert.equal(letter.task, 'flaky');
    assert.equal(letter.attempts, 2);
    assert.deepEqual(letter.args, [5]);
    assert.match(String((letter.error as Error).message), /attempt 2 failed/);
    assert.equal((await listDeadLetters(REDIS, queue)).length, letters.length, 'listing leaves them there');
    // Retry forgets the stored outcome and runs the task again from attempt 1: it fails again
    // (flaky wants 5 attempts), is stored anew and is a dead letter once more.
    assert.equal(await retryDeadLetter(REDIS, queue, future.id), true);
    assert.match(String(((await cluster().result(future.id).exception()) as Error).message), /attempt 2 failed/);
    let again: (string | null)[] = [];
    const deadline = Date.now() + 10_000;
    do again = (await listDeadLetters(REDIS, queue)).map((l) => l.id);
    while (!again.includes(future.id) && Date.now() < deadline);
    assert.equal(again.filter((id) => id === future.id).length, 1, 'the retried task is a dead letter once more, once');
    assert.equal(await retryDeadLetter(REDIS, queue, 'no-such-id'), false);
    assert.ok(await purgeDeadLetters(REDIS, queue) >= 1);
    assert.deepEqual(await listDeadLetters(REDIS, queue), []);
  });

  test('a body that is not a task message is dead-lettered with the reason and the queue moves on', async () => {
    await worker([queue]);
    const broker = await openBroker(REDIS);
    try {
      await broker.publish(queue, { hello: 'not a task' });
      const submitter = cluster();
      assert.equal(await submitter.submit(tasks.square, 12), 144);
      let letters = await listDeadLetters(REDIS, queue);
      const deadline = Date.now() + 5000;
      while (!letters.some((l) => l.id === null) && Date.now() < deadline) letters = await listDeadLetters(REDIS, queue);
      const refused = letters.find((l) => l.id === null);
      assert.ok(refused, 'the foreign body is in the dead letters');
      assert.match(String((refused.error as Error).message), /not a weft task message/);
      // Bytes another client wrote straight into the stream (no weft content type): refused,
      // dead-lettered with their bytes and the reason, never run; the queue moves on.
      const raw = new Redis(REDIS);
      try {
        await raw.xadd(`weft:q:${queue}`, '*', 'p', 'A');
      } finally {
        raw.disconnect();
      }
      assert.equal(await submitter.submit(tasks.square, 13), 169);
      let foreign;
      const until2 = Date.now() + 5000;
      do foreign = (await listDeadLetters(REDIS, queue)).find((l) => l.id === null && /content type/.test(String((l.error as Error).message)));
      while (!foreign && Date.now() < until2);
      assert.ok(foreign, 'the foreign bytes are in the dead letters with the reason');
      await purgeDeadLetters(REDIS, queue);
    } finally {
      await broker.close();
    }
  });
});

describe('RabbitMQ with a Redis result backend, as Celery pairs them', () => {
  test('outcomes are stored on Redis by workers started with --result-backend, and read by id', async () => {
    const amqp = 'amqp://guest:guest@127.0.0.1:5672';
    const queue = freshQueue('amqp-redis');
    const worker = await startWorker(amqp, { queues: [queue], concurrency: 2, extra: ['--result-backend', REDIS] });
    await worker.ready;
    const cluster = new ClusterExecutor({ broker: amqp, queue, resultBackend: REDIS });
    const reader = new ClusterExecutor({ broker: amqp, queue, resultBackend: REDIS });
    try {
      const future = cluster.submit(tasks.add, 20, 22);
      assert.equal(await future, 42);
      assert.equal(await reader.result(future.id), 42);
      const plain = new ClusterExecutor({ broker: amqp, queue });
      assert.throws(() => plain.result(future.id), /amqp keeps no results/);
      await plain.shutdown();
    } finally {
      await Promise.all([cluster.shutdown(), reader.shutdown()]);
      await worker.stop();
      await removeQueues(amqp, [queue]);
    }
  });
});

describe('weft worker --broker and the CLI', () => {
  test('SIGTERM drains: the tasks a worker holds finish and reach their submitter, then it exits 0', async () => {
    const queue = freshQueue('drain');
    const worker = await startWorker(REDIS, { queues: [queue], concurrency: 3 });
    await worker.ready;
    const cluster = new ClusterExecutor({ broker: REDIS, queue });
    try {
      // The tasks finish only once the gate file exists, which is written after the worker said it drains.
      const dir = tempDir();
      const gate = join(dir, 'gate');
      const futures = [0, 1, 2].map((i) => cluster.submit(tasks.finishAfter, [gate, join(dir, `m${i}`), `drained ${i}`]));
      const deadline = Date.now() + 10_000;
      while ((await cluster.inspect(200)).find((w) => w.pid === worker.pid)?.inFlight !== 3) {
        assert.ok(Date.now() < deadline, 'the worker never held the 3 tasks');
      }
      worker.kill('SIGTERM');
      await until(() => worker.output().includes('draining'), 10_000, 'the worker to say it drains');
      writeFileSync(gate, '');
      assert.deepEqual(await Promise.all(futures), ['drained 0', 'drained 1', 'drained 2']);
      const [code] = (await worker.exited) as [number | null];
      assert.equal(code, 0, worker.output());
      assert.match(worker.output(), /draining: finishing 3 task\(s\)/);
    } finally {
      await cluster.shutdown();
      await removeQueues(REDIS, [queue]);
    }
  });

  test('weft status --broker --json lists the workers that answer and the queues\' figures', async () => {
    const queue = freshQueue('status');
    const worker = await startWorker(REDIS, { queues: [queue], concurrency: 2 });
    await worker.ready;
    try {
      const { stdout } = await run(['status', '--broker', REDIS, '--queues', queue, '--wait', '500', '--json']);
      const status = JSON.parse(stdout) as { workers: { pid: number; queues: string[]; capacity: number }[]; queues: { queue: string; waiting: number; dead: number }[] };
      const me = status.workers.find((w) => w.pid === worker.pid);
      assert.ok(me, stdout);
      assert.deepEqual([me.queues, me.capacity], [[queue], 2]);
      assert.deepEqual(status.queues.map((q) => [q.queue, q.waiting, q.dead]), [[queue, 0, 0]]);
      const text = (await run(['status', '--broker', REDIS, '--queues', queue, '--wait', '300'])).stdout;
      assert.match(text, /workers: \d+/);
      assert.match(text, new RegExp(`${queue}\\s+0\\s+`));
    } finally {
      await worker.stop();
      await removeQueues(REDIS, [queue]);
    }
  });

  test('weft dead-letters lists, retries and purges; bad arguments say what is expected', async () => {
    const queue = freshQueue('dlcli');
    const worker = await startWorker(REDIS, { queues: [queue], concurrency: 2 });
    await worker.ready;
    const cluster = new ClusterExecutor({ broker: REDIS, queue });
    try {
      const future = cluster.submit(tasks.fail, 'cli dead letter');
      await assert.rejects(future, /cli dead letter/);
      let listed: { id: string; task: string; error: string }[] = [];
      const deadline = Date.now() + 10_000;
      do listed = JSON.parse((await run(['dead-letters', '--broker', REDIS, '--queue', queue, 'list', '--json'])).stdout);
      while (listed.length === 0 && Date.now() < deadline);
      assert.deepEqual(listed.map((l) => [l.id, l.task]), [[future.id, 'fail']]);
      assert.match(listed[0]!.error, /cli dead letter/);
      assert.match((await run(['dead-letters', '--broker', REDIS, '--queue', queue])).stdout, new RegExp(`1 dead letter\\(s\\) in ${queue}\\.dead`));
      await assert.rejects(run(['dead-letters', '--broker', REDIS, '--queue', queue, 'retry']), /retry needs the task id/);
      await assert.rejects(run(['dead-letters', '--broker', REDIS, '--queue', queue, 'frobnicate']), /unknown action "frobnicate"/);
      assert.match((await run(['dead-letters', '--broker', REDIS, '--queue', queue, 'purge'])).stdout, /removed 1 dead letter/);
      assert.match((await run(['dead-letters', '--broker', REDIS, '--queue', queue])).stdout, /is empty/);
    } finally {
      await cluster.shutdown();
      await worker.stop();
      await removeQueues(REDIS, [queue, `${queue}.dead`]);
    }
  });
});

describe('the broker-backed cluster: local workers and options', () => {
  test('local workers start, run the tasks of this process\'s modules, and stop with the cluster', async () => {
    // Local workers are other processes: a memory broker cannot reach them, Redis can.
    const queue = freshQueue('local');
    const cluster = new ClusterExecutor({ broker: REDIS, queue, localWorkers: 2, localConcurrency: 2 });
    try {
      await cluster.start();
      assert.deepEqual(await cluster.map(tasks.square, [1, 2, 3, 4, 5, 6, 7, 8]), [1, 4, 9, 16, 25, 36, 49, 64]);
      const answering = await cluster.inspect(500);
      assert.equal(answering.filter((w) => w.queues.includes(queue)).length, 2, 'both local workers answer status');
      assert.equal(cluster.workers().length >= 2, true);
    } finally {
      await cluster.shutdown();
      await removeQueues(REDIS, [queue, `${queue}.dead`]);
    }
  });

  test('result(id) needs a result backend; plain functions are refused with a reason', async () => {
    const cluster = new ClusterExecutor({ broker: `memory://nostore-${process.pid}`, resultBackend: false });
    assert.throws(() => cluster.result('x-1'), /needs a result backend/);
    assert.throws(() => (cluster as { submit(fn: unknown, ...args: unknown[]): unknown }).submit((x: number) => x, 1), /plain functions cannot travel through a broker/);
    assert.throws(() => new ClusterExecutor({ broker: 'not a url' } as never), /Expected `broker` to be a broker URL/);
    assert.throws(() => new ClusterExecutor({ broker: REDIS, listen: { port: 0 } } as never), /not both/);
    assert.throws(() => tasks.square.with({ queue: '' }), /Expected `queue` to be a queue name/);
    await cluster.shutdown();
  });
});
