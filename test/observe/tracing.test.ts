// Tracing through @opentelemetry/api, checked with the SDK's in-memory exporter: one trace for a
// task that crosses a child process, an RPC call to another server, and a broker (memory://),
// with parent links across each hop; retries and cancellations as span events.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { context, SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { CancelledError, ClusterExecutor, GreenPool, openBroker, ProcessPool, serve, ThreadPool, type RpcServer } from '../../src/index.js';
import { BrokerWorker } from '../../src/cluster/durable/broker-worker.js';
import { observe, type Observation } from '../../src/observe/observe.js';
import { hooks } from '../../src/observe/hooks.js';
import tasks from '../fixtures/observe-tasks.js';
import { firstProgress } from '../helpers.js';
import { freshQueue } from '../durable/fleet.js';
import { FIXTURES } from '../cluster/helpers.js';
import { join } from 'node:path';

const AUTHKEY = 'observe-tracing-test';

function parentOf(span: ReadableSpan): string | undefined {
  const s = span as unknown as { parentSpanContext?: { spanId: string }; parentSpanId?: string };
  return s.parentSpanContext?.spanId ?? s.parentSpanId;
}

/** The one span named `name` under `parent` (or anywhere); fails listing what there is. */
function only(spans: ReadableSpan[], name: string, parent?: ReadableSpan): ReadableSpan {
  const found = spans.filter((s) => s.name === name && (parent === undefined || parentOf(s) === parent.spanContext().spanId));
  assert.equal(found.length, 1, `one span ${name}${parent ? ` under ${parent.name}` : ''}; spans: ${spans.map((s) => `${s.name}:${s.spanContext().spanId}<-${parentOf(s) ?? 'root'}`).join(', ')}`);
  return found[0]!;
}

describe('tracing with @opentelemetry/api', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager();
  const broker = `memory://observe-${process.pid}`;
  const queue = freshQueue('observe');
  let observation: Observation;
  let cluster: ClusterExecutor;
  let worker: BrokerWorker;
  let server: RpcServer;
  let pool: ProcessPool;

  before(async () => {
    context.setGlobalContextManager(contextManager.enable());
    observation = await observe({ tracing: { tracerProvider: provider } });
    cluster = new ClusterExecutor({ broker, queue });
    worker = await BrokerWorker.start({ broker, queues: [queue], tasks: [join(FIXTURES, 'observe-tasks.js')], pool: 'green', concurrency: 4 });
    await worker.ready();
    server = await serve({
      port: 0, host: '127.0.0.1', authkey: AUTHKEY,
      expose: { relay: async (n: number) => await cluster.submit(tasks.double, n) },
    });
    pool = new ProcessPool({ workers: 1 });
  });

  after(async () => {
    await pool.shutdown();
    await server.close();
    await cluster.shutdown({ cancelPending: true });
    await worker.close();
    observation.close();
    context.disable();
  });

  test('one trace: submit → child process → RPC server → broker → broker worker → its pool, and back', async () => {
    exporter.reset();
    const result = await pool.submit(tasks.viaRpc, `tcp://127.0.0.1:${server.port}`, AUTHKEY, 21);
    assert.equal(result, 42);
    const spans = exporter.getFinishedSpans();
    const [viaRpc, double] = [tasks.viaRpc.taskName, tasks.double.taskName];

    const root = only(spans, `submit ${viaRpc}`);
    assert.equal(parentOf(root), undefined);
    assert.equal(root.kind, SpanKind.PRODUCER);
    assert.equal(root.attributes['messaging.system'], 'weft');
    assert.equal(root.attributes['messaging.destination.name'], 'ProcessPool');
    const attempt = only(spans, `attempt ${viaRpc}`, root);
    // The child process has no tracer: it passed the carrier on, so the server's span hangs
    // under the submitter's attempt.
    const rpc = only(spans, 'weft.rpc/relay', attempt);
    assert.equal(rpc.kind, SpanKind.SERVER);
    assert.equal(rpc.attributes['rpc.system'], 'weft');
    assert.equal(rpc.attributes['rpc.method'], 'relay');
    const submitted = only(spans, `submit ${double}`, rpc);
    assert.equal(submitted.attributes['messaging.destination.name'], 'ClusterExecutor');
    const published = only(spans, `attempt ${double}`, submitted);
    const processed = only(spans, `process ${double}`, published);
    assert.equal(processed.kind, SpanKind.CONSUMER);
    assert.equal(processed.attributes['messaging.destination.name'], queue);
    assert.equal(processed.attributes['messaging.message.id'], submitted.attributes['messaging.message.id']);
    const local = only(spans, `submit ${double}`, processed);
    assert.equal(local.attributes['messaging.destination.name'], 'GreenPool');

    const traceIds = new Set(spans.map((s) => s.spanContext().traceId));
    assert.deepEqual([...traceIds], [root.spanContext().traceId], 'every span is in the one trace');
  });

  test('a message published inside a span is consumed in a CONSUMER span under it (traceparent header)', async () => {
    exporter.reset();
    const messages = await openBroker(`memory://observe-messages-${process.pid}`);
    const topic = freshQueue('messages');
    try {
      let seen!: (headers: Readonly<Record<string, string>>) => void;
      const received = new Promise<Readonly<Record<string, string>>>((resolve) => { seen = resolve; });
      await messages.consume(topic, (message) => seen(message.headers));
      const tracer = provider.getTracer('test');
      await tracer.startActiveSpan('publisher', async (span) => {
        await messages.publish(topic, { hello: 'world' });
        span.end();
      });
      assert.match((await received).traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    } finally {
      await messages.close();
    }
    const spans = exporter.getFinishedSpans();
    const consumer = only(spans, `process ${topic}`, only(spans, 'publisher'));
    assert.equal(consumer.kind, SpanKind.CONSUMER);
    assert.equal(consumer.attributes['messaging.destination.name'], topic);
  });

  test('a broker request is a CLIENT span until its reply; the responder handles it in a CONSUMER span under it', async () => {
    exporter.reset();
    const messages = await openBroker(`memory://observe-request-${process.pid}`);
    const queue = freshQueue('requests');
    try {
      await messages.consume(queue, (message) => (message.body as number) * 2);
      const tracer = provider.getTracer('test');
      const reply = await tracer.startActiveSpan('caller', async (span) => {
        try {
          return await messages.request(queue, 21);
        } finally {
          span.end();
        }
      });
      assert.equal(reply, 42);
      await assert.rejects(tracer.startActiveSpan('caller-timeout', async (span) => {
        try {
          return await messages.request(freshQueue('nobody'), 1, { timeout: 50 });
        } finally {
          span.end();
        }
      }), { name: 'TimeoutError' });
    } finally {
      await messages.close();
    }
    const spans = exporter.getFinishedSpans();
    const client = only(spans, `request ${queue}`, only(spans, 'caller'));
    assert.equal(client.kind, SpanKind.CLIENT);
    assert.deepEqual([client.attributes['messaging.destination.name'], client.attributes['messaging.operation.name']], [queue, 'request']);
    assert.equal(only(spans, `process ${queue}`, client).kind, SpanKind.CONSUMER);
    const timedOut = spans.find((s) => s.name.startsWith('request ') && parentOf(s) === only(spans, 'caller-timeout').spanContext().spanId)!;
    assert.equal(timedOut.status.code, 2, 'a request without an answer ends its span in error');
    assert.equal(timedOut.attributes['error.type'], 'TimeoutError');
  });

  test('a redelivery is an event on the span of the delivery that gets it, in the publisher\'s trace', async () => {
    exporter.reset();
    const messages = await openBroker(`memory://observe-redelivery-${process.pid}`);
    const topic = freshQueue('redelivery');
    try {
      let deliveries = 0;
      let done!: () => void;
      const acked = new Promise<void>((resolve) => { done = resolve; });
      await messages.consume(topic, async (message) => {
        if (++deliveries === 1) return message.nack(true); // back to the queue: delivered again
        await message.ack();
        done();
      }, { autoAck: false });
      await provider.getTracer('test').startActiveSpan('publisher', async (span) => {
        await messages.publish(topic, 'again');
        span.end();
      });
      await acked;
    } finally {
      await messages.close();
    }
    const spans = exporter.getFinishedSpans();
    const publisher = only(spans, 'publisher');
    const consumed = spans.filter((s) => s.name === `process ${topic}`);
    assert.equal(consumed.length, 2);
    assert.ok(consumed.every((s) => parentOf(s) === publisher.spanContext().spanId));
    assert.deepEqual(consumed.map((s) => s.events.map((e) => e.name)).sort(), [[], ['redelivered']]);
  });

  test('a thread pool worker passes the carrier on too', async () => {
    exporter.reset();
    const threads = new ThreadPool({ workers: 1 });
    try {
      assert.equal(await threads.submit(tasks.viaRpc, `tcp://127.0.0.1:${server.port}`, AUTHKEY, 5), 10);
    } finally {
      await threads.shutdown();
    }
    const spans = exporter.getFinishedSpans();
    const attempt = only(spans, `attempt ${tasks.viaRpc.taskName}`);
    only(spans, 'weft.rpc/relay', attempt);
  });

  test('the embedded cluster carries the trace to its worker process (a TRACE record before the lease)', async () => {
    exporter.reset();
    const embedded = new ClusterExecutor({ listen: { port: 0 }, authkey: 'observe-embedded', localWorkers: 1 });
    try {
      await embedded.start();
      assert.equal(await embedded.submit(tasks.viaRpc, `tcp://127.0.0.1:${server.port}`, AUTHKEY, 4), 8);
    } finally {
      await embedded.shutdown();
    }
    const spans = exporter.getFinishedSpans();
    const root = only(spans.filter((span) => parentOf(span) === undefined), `submit ${tasks.viaRpc.taskName}`);
    assert.equal(root.attributes['messaging.destination.name'], 'ClusterExecutor');
    only(spans, 'weft.rpc/relay', only(spans, `attempt ${tasks.viaRpc.taskName}`, root));
  });

  test('a retry is an event on the task span, each attempt its own span; the failed one records its error', async () => {
    exporter.reset();
    assert.equal(await pool.submit(tasks.failOnce.with({ retries: 1, retryDelay: 1 }), 7), 7);
    const spans = exporter.getFinishedSpans();
    const root = only(spans, `submit ${tasks.failOnce.taskName}`);
    assert.deepEqual(root.events.map((e) => e.name), ['retry']);
    assert.equal(root.events[0]!.attributes?.['error.type'], 'RangeError');
    const attempts = spans.filter((s) => s.name === `attempt ${tasks.failOnce.taskName}`).sort((a, b) => Number(a.attributes['weft.task.attempt']) - Number(b.attributes['weft.task.attempt']));
    assert.deepEqual(attempts.map((s) => [s.attributes['weft.task.attempt'], s.status.code]), [[1, 2], [2, 0]]);
    assert.equal(attempts[0]!.attributes['error.type'], 'RangeError');
  });

  test('a retry on the broker-backed cluster (run by the worker) is an event on the submitter\'s span too', async () => {
    exporter.reset();
    assert.equal(await cluster.submit(tasks.failOnce.with({ retries: 1, retryDelay: 1 }), 3), 3);
    const spans = exporter.getFinishedSpans();
    const root = only(spans.filter((span) => parentOf(span) === undefined), `submit ${tasks.failOnce.taskName}`);
    assert.ok(root.events.some((e) => e.name === 'retry'), `events: ${root.events.map((e) => e.name).join(', ')}`);
    // Both deliveries (the first and its retry, republished by the worker) are in the trace.
    const processed = spans.filter((s) => s.name === `process ${tasks.failOnce.taskName}`);
    assert.deepEqual(processed.map((s) => s.attributes['weft.task.attempt']).sort(), [1, 2]);
    assert.ok(processed.every((s) => s.spanContext().traceId === root.spanContext().traceId));
  });

  test('a cancellation is an event, and the task span ends in state cancelled', async () => {
    exporter.reset();
    const green = new GreenPool({ size: 2 });
    const future = green.submit(tasks.waitForCancel);
    await firstProgress(future); // it runs
    future.cancel();
    await assert.rejects(future.result(), CancelledError);
    await green.shutdown();
    const root = only(exporter.getFinishedSpans(), `submit ${tasks.waitForCancel.taskName}`);
    assert.deepEqual(root.events.map((e) => e.name), ['cancelled']);
    assert.equal(root.attributes['weft.task.state'], 'cancelled');
  });

  test('closing the observation clears the hooks: nothing is traced afterwards', async () => {
    const again = await observe({ tracing: { tracerProvider: provider } });
    again.close();
    assert.equal(hooks.current, undefined);
    exporter.reset();
    const green = new GreenPool({ size: 1 });
    assert.equal(await green.submit(tasks.double, 2), 4);
    await green.shutdown();
    assert.deepEqual(exporter.getFinishedSpans(), []);
    observation = await observe({ tracing: { tracerProvider: provider } });
  });
});
