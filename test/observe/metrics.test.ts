// Metrics through prom-client into the user's Registry: known work, then a scrape of /metrics
// served by serveMetrics(), with the exact figures checked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry, Registry } from 'prom-client';
import { connect, openBroker, serve, ThreadPool, type RpcServer } from '../../src/index.js';
import { observe, type Observation } from '../../src/observe/observe.js';
import { serveMetrics, type MetricsServer } from '../../src/observe/serve-metrics.js';
import tasks from '../fixtures/observe-tasks.js';
import { firstProgress } from '../helpers.js';

const AUTHKEY = 'observe-metrics-test';

/** `name{labels} value` lines of a scrape, by name with labels as written. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function scrape(server: MetricsServer): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  return parse(await response.text());
}

describe('metrics with prom-client', () => {
  const registry = new Registry();
  let observation: Observation;
  let server: MetricsServer;

  before(async () => {
    observation = await observe({ metrics: { registry } });
    server = await serveMetrics(registry, { port: 0 });
  });

  after(async () => {
    await server.close();
    observation.close();
  });

  test('tasks submitted, completed, failed, cancelled and retried, durations and queue waits, workers', async () => {
    const pool = new ThreadPool({ workers: 2 });
    await Promise.all(Array.from({ length: 5 }, (_, i) => pool.submit(tasks.double, i)));
    const failures = await Promise.allSettled([pool.submit(tasks.fail, 'a'), pool.submit(tasks.fail, 'b')]);
    assert.deepEqual(failures.map((f) => f.status), ['rejected', 'rejected']);
    assert.equal(await pool.submit(tasks.failOnce.with({ retries: 1, retryDelay: 1 }), 9), 9);
    const waiting = pool.submit(tasks.waitForCancel);
    await firstProgress(waiting); // it runs on a worker now

    const during = await scrape(server);
    assert.equal(during.get('weft_workers_alive{executor="ThreadPool"}'), 2);
    assert.equal(during.get('weft_queue_depth{executor="ThreadPool"}'), 0);

    waiting.cancel();
    await pool.shutdown();
    const m = await scrape(server);
    const at = (name: string, task: { taskName: string }) => m.get(`${name}{executor="ThreadPool",task="${task.taskName}"}`);
    assert.equal(at('weft_tasks_submitted_total', tasks.double), 5);
    assert.equal(at('weft_tasks_completed_total', tasks.double), 5);
    assert.equal(at('weft_tasks_failed_total', tasks.double), undefined);
    assert.equal(at('weft_tasks_submitted_total', tasks.fail), 2);
    assert.equal(at('weft_tasks_failed_total', tasks.fail), 2);
    assert.equal(at('weft_tasks_retried_total', tasks.failOnce), 1);
    assert.equal(at('weft_tasks_completed_total', tasks.failOnce), 1);
    assert.equal(at('weft_tasks_cancelled_total', tasks.waitForCancel), 1);
    assert.equal(at('weft_task_duration_seconds_count', tasks.double), 5);
    assert.equal(at('weft_task_duration_seconds_count', tasks.failOnce), 2, 'one observation per attempt');
    assert.equal(at('weft_task_queue_wait_seconds_count', tasks.double), 5);
    assert.equal(at('weft_task_queue_wait_seconds_count', tasks.failOnce), 2);
    assert.ok(at('weft_task_duration_seconds_sum', tasks.double)! > 0);
    assert.equal(m.get('weft_workers_alive{executor="ThreadPool"}'), 0, 'after shutdown');
  });

  test('RPC calls and errors on both sides', async () => {
    const rpc: RpcServer = await serve({
      port: 0, host: '127.0.0.1', authkey: AUTHKEY,
      expose: { echo: (x: unknown) => x, boom: () => { throw new Error('boom'); } },
    });
    const client = await connect<{ echo(x: number): Promise<number>; boom(): Promise<never> }>(`tcp://127.0.0.1:${rpc.port}`, { authkey: AUTHKEY });
    try {
      for (let i = 0; i < 3; i++) assert.equal(await client.echo(i), i);
      await assert.rejects(client.boom(), /boom/);
    } finally {
      await client.close();
      await rpc.close();
    }
    const m = await scrape(server);
    assert.equal(m.get('weft_rpc_calls_total{method="echo",side="client"}'), 3);
    assert.equal(m.get('weft_rpc_calls_total{method="echo",side="server"}'), 3);
    assert.equal(m.get('weft_rpc_errors_total{method="echo",side="client"}'), undefined);
    assert.equal(m.get('weft_rpc_calls_total{method="boom",side="client"}'), 1);
    assert.equal(m.get('weft_rpc_errors_total{method="boom",side="client"}'), 1);
    assert.equal(m.get('weft_rpc_errors_total{method="boom",side="server"}'), 1);
    assert.equal(m.get('weft_rpc_duration_seconds_count{method="echo",side="server"}'), 3);
  });

  test('broker messages held unacknowledged', async () => {
    const broker = await openBroker(`memory://metrics-${process.pid}`);
    const queue = `held-${process.pid}`;
    try {
      const held: { ack(): Promise<void> }[] = [];
      let all!: () => void;
      const three = new Promise<void>((resolve) => { all = resolve; });
      const consumer = await broker.consume(queue, (message) => {
        held.push(message);
        if (held.length === 3) all();
      }, { autoAck: false, prefetch: 10 });
      for (let i = 0; i < 3; i++) await broker.publish(queue, i);
      await three;
      assert.equal((await scrape(server)).get(`weft_broker_messages_in_flight{queue="${queue}"}`), 3);
      await held[0]!.ack();
      assert.equal((await scrape(server)).get(`weft_broker_messages_in_flight{queue="${queue}"}`), 2);
      await Promise.all(held.slice(1).map((m) => m.ack()));
      assert.equal((await scrape(server)).get(`weft_broker_messages_in_flight{queue="${queue}"}`), 0);
      await consumer.cancel();
    } finally {
      await broker.close();
    }
  });

  test('the global default registry is left alone, and only GET /metrics is served', async () => {
    assert.equal(globalRegistry.getSingleMetric('weft_tasks_submitted_total'), undefined);
    assert.ok(registry.getSingleMetric('weft_tasks_submitted_total'));
    const response = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(response.status, 404);
    await response.text();
  });

  test('bad arguments are TypeErrors', async () => {
    await assert.rejects(observe({ metrics: {} as never }), TypeError);
    await assert.rejects(observe({ metrics: { registry, prefix: 'no spaces' } }), TypeError);
    await assert.rejects(observe({ tracing: 'yes' as never }), TypeError);
    await assert.rejects(serveMetrics({} as never), TypeError);
    await assert.rejects(serveMetrics(registry, { port: -1 }), TypeError);
  });
});
