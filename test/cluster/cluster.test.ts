import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BrokenExecutorError, ClusterExecutor, RemoteError, UnknownTaskError, chord, clusterStatus, group, sig,
} from '../../src/index.js';
import ct from '../fixtures/cluster-tasks.js';
import tasks from '../fixtures/tasks.js';
import { markerWritten, tempDir, until } from '../helpers.js';
import { CLI, FIXTURES, nextEvent, spawnWorker, stopWorker } from './helpers.js';

const KEY = 'cluster-test-key';
const CT = join(FIXTURES, 'cluster-tasks.js');
const EXTRA = join(FIXTURES, 'extra-tasks.js');

function scheduler(options: Partial<ConstructorParameters<typeof ClusterExecutor>[0]> = {}): ClusterExecutor {
  return new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey: KEY, heartbeatInterval: 100, leaseTimeout: 1000, ...options });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('ClusterExecutor with `weft worker` processes', () => {
  test('a worker joins, is listed with its tasks, runs them by name, and is reported lost when it dies', async () => {
    const cluster = scheduler();
    await cluster.start();
    assert.ok(cluster.port > 0);
    assert.equal(cluster.url, `tcp://127.0.0.1:${cluster.port}`);
    const joined = nextEvent(cluster, 'worker-joined');
    const worker = spawnWorker(cluster.url, KEY, ['--tasks', CT, '--tasks', EXTRA, '--pool', 'green', '--concurrency', '3', '--name', 'remote-a']);
    try {
      const info = await joined;
      assert.equal(info.name, 'remote-a');
      assert.equal(info.capacity, 3);
      assert.equal(info.pool, 'green');
      assert.equal(info.pid, worker.child.pid);
      // It announces tasks this caller never defined (extra.hello); that is harmless. Every
      // worker also offers weft's own partition task (a Bag's), which runs only its tasks.
      assert.deepEqual([...info.tasks].sort(), ['ct.add', 'ct.circular', 'ct.fail', 'ct.slowSquare', 'ct.sum', 'ct.symbol', 'ct.tagged', 'extra.hello', 'weft.collections.runPartition']);
      assert.deepEqual(await Promise.all([1, 2, 3, 4].map((x) => cluster.submit(ct.add, x, 10))), [11, 12, 13, 14]);
      const [listed] = cluster.workers();
      assert.equal(listed!.completed, 4);
      assert.equal(listed!.inFlight, 0);
      assert.equal(listed!.state, 'ready');
      assert.ok(listed!.lastHeartbeat instanceof Date && Date.now() - listed!.lastHeartbeat.getTime() < 5000);

      const status = await clusterStatus(cluster.url, { authkey: KEY });
      assert.equal(status.workers.length, 1);
      assert.equal(status.completed, 4);
      // Asynchronously: the scheduler lives in this process and must answer.
      const printed = await promisify(execFile)(process.execPath, [CLI, 'status', '--connect', cluster.url], { env: { ...process.env, WEFT_AUTHKEY: KEY } });
      assert.match(printed.stdout, /workers: 1 .*completed: 4/);
      assert.match(printed.stdout, /remote-a\s.*green\s+3\s+0\s+4\s+0\s+ready/);

      const lost = nextEvent(cluster, 'worker-lost');
      worker.child.kill('SIGKILL');
      assert.match((await lost).reason, /connection closed/);
      assert.deepEqual(cluster.workers(), []);
    } finally {
      await stopWorker(worker);
      await cluster.shutdown();
    }
  });

  test('on every --pool, a task sees the caller\'s future id and attempt, and its signal on cancel', async () => {
    const cluster = scheduler();
    await cluster.start();
    try {
      for (const pool of ['threads', 'processes', 'green', 'inline']) {
        const joined = nextEvent(cluster, 'worker-joined');
        const worker = spawnWorker(cluster.url, KEY, ['--tasks', join(FIXTURES, 'tasks.js'), '--pool', pool, '--concurrency', '2']);
        try {
          assert.equal((await joined).pool, pool);
          const future = cluster.submit(tasks.contextInfo);
          assert.deepEqual(await future, { id: future.id, attempt: 1, aborted: false }, pool);
          assert.equal(await cluster.submit(tasks.flaky.with({ retries: 1, retryDelay: 1 }), 2), 2, pool);
          const dir = tempDir();
          const running = cluster.submit(tasks.waitForAbort, join(dir, 'marker'));
          await new Promise((resolve) => running.onProgress(resolve));
          running.cancel();
          assert.equal(await markerWritten(join(dir, 'marker')), 'CancelledError', pool);
        } finally {
          const lost = nextEvent(cluster, 'worker-lost');
          await stopWorker(worker);
          await lost;
        }
      }
    } finally {
      await cluster.shutdown();
    }
  });

  test('tasks submitted before any worker joins wait; a worker started before the scheduler reconnects until it is up', async () => {
    const port = await freePort();
    const url = `tcp://127.0.0.1:${port}`;
    const worker = spawnWorker(url, KEY, ['--tasks', CT, '--pool', 'inline']);
    const cluster = scheduler({ listen: { host: '127.0.0.1', port } });
    try {
      const early = cluster.submit(ct.add, 20, 22); // starts the cluster lazily
      assert.equal(early.state, 'pending');
      assert.equal(await early, 42);
      assert.match(worker.output(), /cannot reach|joined/);
    } finally {
      await stopWorker(worker);
      await cluster.shutdown();
    }
  });

  test('a task no worker offers fails with UnknownTaskError instead of waiting forever', async () => {
    const cluster = scheduler({ unroutableTimeout: 200 });
    await cluster.start();
    const joined = nextEvent(cluster, 'worker-joined');
    const worker = spawnWorker(cluster.url, KEY, ['--tasks', CT, '--pool', 'green']);
    try {
      await joined;
      const unknown = cluster.submit(tasks.square, 3); // defined in tasks.js, which this worker lacks
      await assert.rejects(unknown, (error: Error) => error instanceof UnknownTaskError
        && /task square: no connected worker offers it \(they offer .*ct\.add/.test(error.message));
      assert.equal(await cluster.submit(ct.add, 1, 1), 2, 'the cluster keeps serving');
      assert.equal(cluster.deadLetters().at(-1)?.task, 'square');
      // Plain functions need a worker that opted in.
      assert.throws(() => cluster.submit((x: number) => x + 1, 1), /plain function.*--allow-functions/);
    } finally {
      await stopWorker(worker);
      await cluster.shutdown();
    }
  });

  test('a worker with a wrong authkey is refused with a clear error and the cluster keeps serving', async () => {
    const cluster = scheduler();
    await cluster.start();
    const refused = nextEvent(cluster, 'connections-refused', (report) => report.byReason.authkey !== undefined);
    const intruder = spawnWorker(cluster.url, 'not-the-key', ['--tasks', CT]);
    const joined = nextEvent(cluster, 'worker-joined');
    const good = spawnWorker(cluster.url, KEY, ['--tasks', CT, '--pool', 'green']);
    try {
      assert.equal(await intruder.exited, 3);
      assert.match(intruder.output(), /cannot join .*authkey/i);
      const report = await refused; // counted and reported in aggregate (at most one report per 10 s)
      assert.equal(report.byReason.authkey, 1);
      assert.match(report.message, /1 with a wrong authkey; from 127\.0\.0\.1 \(1\)$/);
      await joined;
      assert.equal(cluster.workers().length, 1);
      assert.equal(await cluster.submit(ct.add, 2, 3), 5);
    } finally {
      await stopWorker(intruder);
      await stopWorker(good);
      await cluster.shutdown();
    }
  });

  test('SIGTERM drains a worker: it finishes what it holds, takes nothing new, and exits', async () => {
    const cluster = scheduler();
    await cluster.start();
    const joined = nextEvent(cluster, 'worker-joined');
    const worker = spawnWorker(cluster.url, KEY, ['--tasks', CT, '--pool', 'green', '--concurrency', '2']);
    try {
      await joined;
      const held = cluster.submit(ct.tagged, 7, 300);
      await new Promise((resolve) => held.onProgress(resolve));
      const draining = nextEvent(cluster, 'worker-draining');
      worker.child.kill('SIGTERM');
      await draining;
      const later = cluster.submit(ct.add, 1, 2);
      assert.deepEqual(await held, { value: 7, pid: worker.child.pid, attempt: 1 });
      assert.equal(await worker.exited, 0);
      assert.equal(later.state, 'pending', 'a draining worker was sent new work');
      later.cancel();
    } finally {
      await stopWorker(worker);
      await cluster.shutdown();
    }
  });

  test('Ctrl-C drains; Ctrl-C twice exits at once', async () => {
    const cluster = scheduler();
    await cluster.start();
    const joined = nextEvent(cluster, 'worker-joined');
    const worker = spawnWorker(cluster.url, KEY, ['--tasks', CT, '--pool', 'green']);
    try {
      await joined;
      const held = cluster.submit(ct.tagged, 1, 30_000);
      await new Promise((resolve) => held.onProgress(resolve));
      const draining = nextEvent(cluster, 'worker-draining');
      worker.child.kill('SIGINT');
      await draining;
      assert.equal(worker.child.exitCode, null, 'the first SIGINT should only drain');
      const lost = nextEvent(cluster, 'worker-lost');
      worker.child.kill('SIGINT');
      assert.equal(await worker.exited, 130);
      await lost;
      held.cancel(); // no worker left to run it again
    } finally {
      await stopWorker(worker);
      await cluster.shutdown({ cancelPending: true });
    }
  });
});

describe('ClusterExecutor with local workers', () => {
  test('an unserialisable result or argument fails that task with a clear error; nothing hangs', async () => {
    await using cluster = scheduler({ localWorkers: 1 });
    await assert.rejects(cluster.submit(ct.circular), (error: Error) => /cannot be serialised/.test(error.message));
    await assert.rejects(cluster.submit(ct.symbol), (error: Error) => /cannot be serialised/.test(error.message));
    await assert.rejects(cluster.submit(ct.add, Symbol('x') as never, 1), (error: Error) => error instanceof TypeError && /could not be sent to a worker/.test(error.message));
    assert.equal(await cluster.submit(ct.add, 1, 2), 3);
  });

  test('retries back off, emit task-retried, and the last failure goes to deadLetters()', async () => {
    await using cluster = scheduler({ localWorkers: 1 });
    const retried: number[] = [];
    cluster.on('task-retried', (event) => retried.push(event.attempt));
    const dead = nextEvent(cluster, 'task-dead');
    const future = cluster.submit(ct.fail.with({ retries: 2, retryDelay: 5 }), 'always');
    await assert.rejects(future, (error: Error) => error instanceof RemoteError && error.remoteName === 'RangeError' && error.message === 'always');
    assert.deepEqual(retried, [1, 2]);
    const letter = await dead;
    assert.equal(letter.id, future.id);
    assert.equal(letter.task, 'ct.fail');
    assert.equal(letter.attempts, 3);
    assert.deepEqual(letter.args, ['always']);
    assert.deepEqual(cluster.deadLetters().map((d) => d.id), [future.id]);
  });

  test('plain functions run where the cluster opted in', async () => {
    await using cluster = scheduler({ localWorkers: 1, allowFunctions: true });
    assert.equal(await cluster.submit((a: number, b: number) => a * b, 6, 7), 42);
  });

  test('group, chain and chord run through the cluster (the pi group of the articles, small)', async () => {
    await using cluster = scheduler({ localWorkers: 2 });
    const squares = await group([1, 2, 3, 4, 5].map((x) => sig(tasks.square, x))).run(cluster);
    assert.deepEqual(squares, [1, 4, 9, 16, 25]);
    assert.equal(await chord([1, 2, 3].map((x) => sig(tasks.square, x)), sig(ct.sum)).run(cluster), 14);
  });

  test('local workers leave when the caller dies (kill -9): nothing is left behind', async () => {
    const parent = spawn(process.execPath, [fileURLToPath(new URL('./orphan-parent.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = await once(createInterface({ input: parent.stdout! }), 'line') as [string];
    const pids = JSON.parse(line) as number[];
    assert.equal(pids.length, 2);
    parent.kill('SIGKILL');
    const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    await until(() => pids.every((pid) => !alive(pid)), 10_000, 'the local workers to exit');
  });

  test('local workers that die are started again and the cluster keeps its strength', async () => {
    await using cluster = scheduler({ localWorkers: 2 });
    await cluster.start();
    const [first] = cluster.workers();
    const rejoined = nextEvent(cluster, 'worker-joined');
    process.kill(first!.pid, 'SIGKILL');
    const back = await rejoined;
    assert.notEqual(back.pid, first!.pid);
    assert.equal(cluster.workers().length, 2);
    assert.equal(await cluster.submit(ct.add, 2, 2), 4);
  });
});

describe('ClusterExecutor options', () => {
  test('bad options say what was expected', () => {
    assert.throws(() => new ClusterExecutor(undefined as never), /Expected `options` to be an object/);
    assert.throws(() => new ClusterExecutor({ listen: { port: 70000 }, authkey: KEY }), /listen.port/);
    assert.throws(() => new ClusterExecutor({ listen: {}, authkey: '' }), /authkey/);
    assert.throws(() => new ClusterExecutor({ listen: {}, authkey: KEY, localPool: 'fibers' as never }), /localPool/);
    assert.throws(() => new ClusterExecutor({ listen: {}, authkey: KEY, heartbeatInterval: 500, leaseTimeout: 400 }), /leaseTimeout/);
    // { broker } is the durable cluster (test/durable/); its options are checked the same way.
    assert.throws(() => new ClusterExecutor({ broker: 'redis://x', concurrency: 0 }), /Expected `concurrency` to be a positive integer or Infinity, got 0/);
    assert.throws(() => new ClusterExecutor({ broker: 'redis://x', routes: { a: '' } }), /Expected `routes.a` to be a queue name/);
  });

  test('a port in use makes start() reject and the executor refuses work', async () => {
    const first = scheduler();
    await first.start();
    const second = scheduler({ listen: { host: '127.0.0.1', port: first.port }, localWorkers: 1 });
    try {
      const early = second.submit(ct.add, 1, 1); // starts it; waits for the local worker
      await assert.rejects(second.start(), /EADDRINUSE/);
      await assert.rejects(early, (error: Error) => error instanceof BrokenExecutorError && /could not start.*EADDRINUSE/.test(error.message));
      assert.throws(() => second.submit(ct.add, 1, 1), /cannot submit|could not start/);
    } finally {
      await first.shutdown();
      await second.shutdown();
    }
  });

  test('an authkey file works for weft worker', async () => {
    const cluster = scheduler();
    await cluster.start();
    const file = join(tempDir(), 'key');
    writeFileSync(file, `${KEY}\n`);
    const joined = nextEvent(cluster, 'worker-joined');
    const worker = spawnWorker(cluster.url, '', ['--tasks', CT, '--pool', 'inline', '--authkey-file', file]);
    try {
      await joined;
      assert.equal(await cluster.submit(ct.add, 5, 5), 10);
    } finally {
      await stopWorker(worker);
      await cluster.shutdown();
    }
  });
});
