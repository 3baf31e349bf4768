import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  byRef, CancelledError, connect, registerRemoteClass, ConnectionClosedError, InvalidStateError, isRemote, releaseProxy, RemoteError, serve,
  taskContext, TimeoutError, type Remote, type RpcServer,
} from '../../src/index.js';
import { proxyHandle } from '../../src/remote/rpc/proxy.js';

const authkey = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

/** Instances always travel by reference, without byRef(). */
class Account {
  balance = 0;
  deposit(amount: number): number {
    return (this.balance += amount);
  }
}
registerRemoteClass(Account);

class Counter {
  count = 0;
  _secret = 'hidden';
  increment(by = 1): number {
    return (this.count += by);
  }
  get doubled(): number {
    return this.count * 2;
  }
}

/** Resolves when a handler's signal aborts, with the abort reason. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const aborted = { current: deferred<unknown>() };
const started = { current: deferred<void>() };
const shared = new Counter();

const api = {
  version: '1.2.3',
  add(a: number, b: number): number {
    return a + b;
  },
  async later<T>(value: T): Promise<T> {
    await new Promise((resolve) => setImmediate(resolve));
    return value;
  },
  counter(): ReturnType<typeof byRef<Counter>> {
    return byRef(new Counter());
  },
  openAccount(): Account {
    return new Account();
  },
  sharedCounter() {
    return byRef(shared);
  },
  isShared(counter: unknown): boolean {
    return counter === shared;
  },
  *countdown(n: number): Generator<number, string> {
    while (n > 0) yield n--;
    return 'liftoff';
  },
  async withProgress(steps: number): Promise<number> {
    for (let i = 1; i <= steps; i++) taskContext().progress(i);
    return steps;
  },
  fail(): never {
    throw Object.assign(new RangeError('out of range', { cause: new Error('deep cause') }), { detail: 42 });
  },
  timeoutError(): never {
    throw new TimeoutError('nothing came');
  },
  /** Never answers on its own; reports the abort reason of its signal. */
  hang(): Promise<never> {
    const { signal } = taskContext();
    started.current.resolve();
    return new Promise((_resolve, reject) => signal.addEventListener('abort', () => {
      aborted.current.resolve(signal.reason);
      reject(signal.reason);
    }, { once: true }));
  },
  /** Yields until its caller stops listening; reports the abort reason. */
  async *ticks(): AsyncGenerator<number> {
    const { signal } = taskContext();
    for (let i = 0; !signal.aborted; i++) {
      yield i;
      await new Promise((resolve) => setImmediate(resolve));
    }
    aborted.current.resolve(signal.reason);
  },
  async callBack(callback: Remote<{ ping(x: number): number }>, x: number): Promise<number> {
    return (await callback.ping(x)) + 1;
  },
};
type Api = typeof api;

// The same behaviour over TCP and over ZeroMQ (zmq+tcp://, a ROUTER server and a DEALER client):
// only the transport under RpcSession differs.
for (const transport of ['tcp', 'zmq'] as const) describe(`RPC and remote objects over ${transport}`, () => {
  let server: RpcServer;
  before(async () => {
    server = await serve({ transport, authkey, expose: api });
  });
  after(() => server.close());

  test('methods become async, properties can be read, the proxy is not thenable', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    assert.equal(await remote.add(2, 3), 5);
    assert.equal(await remote.later('x'), 'x');
    assert.equal(await remote.version, '1.2.3');
    assert.equal((remote as unknown as { then?: unknown }).then, undefined);
    assert.equal(await Promise.resolve(remote), remote, 'awaiting a proxy yields the proxy itself');
    assert.ok(isRemote(remote));
    // The client reads every chunk into one reused buffer: what arrived earlier must not change.
    const first = await remote.later(Buffer.alloc(100, 1));
    const second = await remote.later(Buffer.alloc(100, 2));
    assert.deepEqual([first, second], [Buffer.alloc(100, 1), Buffer.alloc(100, 2)]);
    await remote.close();
  });

  test('objects returned by reference stay proxies; names starting with _ are not exposed', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    const counter = await remote.counter();
    assert.ok(isRemote(counter));
    assert.equal(await counter.increment(), 1);
    assert.equal(await counter.increment(5), 6);
    assert.equal(await counter.count, 6);
    assert.equal(await counter.doubled, 12);
    assert.equal((counter as unknown as Record<string, unknown>)._secret, undefined);
    await remote.close();
  });

  test('instances of a registered class arrive as proxies without byRef()', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    const account = await remote.openAccount() as unknown as Remote<Account>;
    assert.ok(isRemote(account));
    assert.equal(await account.deposit(5), 5);
    assert.equal(await account.deposit(5), 10);
    assert.throws(() => registerRemoteClass(42 as never), /Expected `Class` to be a class, got 42 \(number\)/);
    await remote.close();
  });

  test('a proxy sent back to its owner arrives as the original object', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    const counter = await remote.sharedCounter();
    assert.equal(await remote.isShared(counter), true);
    assert.equal(await remote.isShared({}), false);
    await remote.close();
  });

  test('released proxies refuse calls, and the owner forgets the object once every copy is released', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    const first = await remote.sharedCounter();
    const second = await remote.sharedCounter();
    const { session, id } = proxyHandle(first)!;
    await first.release();
    await assert.rejects(first.increment(), InvalidStateError);
    assert.equal(typeof await second.increment(), 'number', 'another proxy of the same object still works');
    await releaseProxy(second);
    await assert.rejects(session.call(id, 'increment', [], undefined), (error: unknown) =>
      error instanceof RemoteError && /there is no remote object #\d+: it was released/.test(error.message));
    await remote.close();
  });

  test('generator methods stream values; progress reaches onProgress', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    const future = remote.countdown(3);
    const values: number[] = [];
    for await (const value of future) values.push(value);
    assert.deepEqual(values, [3, 2, 1]);
    assert.equal(await future, 'liftoff');
    const seen: unknown[] = [];
    const progress = remote.withProgress(3).onProgress((v) => seen.push(v));
    assert.equal(await progress, 3);
    assert.deepEqual(seen, [1, 2, 3]);
    await remote.close();
  });

  test('breaking out of a streamed generator cancels it on the server', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    aborted.current = deferred();
    const seen: number[] = [];
    for await (const value of remote.ticks()) {
      seen.push(value);
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, [0, 1, 2]);
    assert.ok(await aborted.current.promise instanceof CancelledError);
    await remote.close();
  });

  test('remote errors arrive as RemoteError with name, message, stack, cause and own properties; weft errors keep their class', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    await assert.rejects(remote.fail(), (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteName, 'RangeError');
      assert.equal(error.message, 'out of range');
      assert.match(error.remoteStack ?? '', /at Object\.fail/);
      assert.equal((error as unknown as { detail: number }).detail, 42);
      assert.equal((error.cause as Error).message, 'deep cause');
      return true;
    });
    await assert.rejects(remote.timeoutError(), TimeoutError);
    await remote.close();
  });

  test('cancelling a call aborts the handler signal with CancelledError', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    aborted.current = deferred();
    started.current = deferred();
    const future = remote.hang();
    await started.current.promise;
    future.cancel();
    await assert.rejects(future, CancelledError);
    assert.ok(await aborted.current.promise instanceof CancelledError);
    await remote.close();
  });

  test('a call timeout rejects with TimeoutError and aborts the handler; signal cancels too', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    aborted.current = deferred();
    await assert.rejects(remote.hang.with({ timeout: 30 })(), (error: unknown) =>
      error instanceof TimeoutError && /remote call hang did not answer within 30 ms/.test(error.message));
    assert.ok(await aborted.current.promise instanceof TimeoutError);

    aborted.current = deferred();
    started.current = deferred();
    const controller = new AbortController();
    const future = remote.hang.with({ signal: controller.signal })();
    await started.current.promise;
    controller.abort();
    await assert.rejects(future, CancelledError);
    assert.ok(await aborted.current.promise instanceof CancelledError);
    await remote.close();
  });

  test('a client can lend objects too: the server calls back through a proxy', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    const callback = { ping: (x: number) => x * 10 };
    assert.equal(await remote.callBack(byRef(callback) as never, 4), 41);
    await remote.close();
  });

  test('arguments that cannot be sent and bad options fail at once with clear errors', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    await assert.rejects(remote.add(Symbol('x') as never, 1), /the arguments of add cannot be sent/);
    assert.throws(() => remote.add.with({ timeout: -1 }), /Expected `timeout` to be a non-negative finite number of milliseconds, got -1/);
    await assert.rejects(connect('http://127.0.0.1:1', { authkey }), /Expected `address` to be a tcp:\/\/, tls:\/\/ or zmq\+tcp:\/\/ URL/);
    await assert.rejects(connect(server.url, { authkey: '' }), /Expected `authkey` to be a non-empty string or Uint8Array, got "" \(string\)/);
    await remote.close();
  });

  test('calls on a closed connection reject with ConnectionClosedError', async () => {
    const remote = await connect<Api>(server.url, { authkey });
    await remote.close();
    await assert.rejects(remote.add(1, 2), ConnectionClosedError);
  });

  test("a client never exceeds the server's in-flight limit: the rest wait their turn", async () => {
    let running = 0;
    let peak = 0;
    const limited = await serve({
      transport, authkey, maxInFlight: 4,
      expose: {
        async work(x: number) {
          peak = Math.max(peak, ++running);
          await new Promise((resolve) => setImmediate(resolve));
          running--;
          return x;
        },
      },
    });
    const remote = await connect<{ work(x: number): Promise<number> }>(limited.url, { authkey });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => remote.work(i)));
    assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i));
    assert.ok(peak <= 4 && peak >= 2, `peak concurrency ${peak}`);
    await remote.close();
    await limited.close();
  });
});

describe('server shutdown and many clients', () => {
  test('a server that goes silent is detected by the client heartbeat; pending calls reject', async () => {
    const { ConnectionServer } = await import('../../src/remote/listener.js');
    // Answers DESCRIBE so that connect() completes, then never answers anything again.
    const { Codec } = await import('../../src/remote/codec.js');
    const codec = new Codec();
    const mute = await ConnectionServer.listen({ authkey, heartbeatInterval: 0 }, (connection) => connection.start((type, id) => {
      if (type === 0x18) connection.send(codec.encodeFrame(0x12, id, [['add'], []]));
    }));
    const remote = await connect<Api>(mute.url, { authkey, heartbeatInterval: 50, heartbeatTimeout: 200 });
    await assert.rejects(remote.add(1, 2), (error: unknown) =>
      error instanceof ConnectionClosedError && /the peer sent nothing for \d+ ms \(heartbeat timeout 200 ms\)/.test(error.message));
    await mute.close();
  });

  test('shutdown with calls in flight rejects each promptly; the client reconnects when asked', async () => {
    const server = await serve({ authkey, expose: api });
    const port = server.port;
    const remote = await connect<Api>(server.url, { authkey });
    started.current = deferred();
    const inFlight = Array.from({ length: 20 }, () => remote.hang());
    await started.current.promise;
    await server.close();
    const outcomes = await Promise.allSettled(inFlight);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(outcome.reason instanceof ConnectionClosedError);
      assert.match(outcome.reason.message, /the peer closed the connection: the server is shutting down/);
    }
    const again = await serve({ authkey, expose: api, port });
    const reconnected = await connect<Api>(`tcp://127.0.0.1:${port}`, { authkey });
    assert.equal(await reconnected.add(1, 1), 2);
    await reconnected.close();
    await again.close();
  });

  test('200 connections × 50 pipelined calls: every call answered correctly', async () => {
    const server = await serve({ authkey, expose: api });
    const clients = await Promise.all(Array.from({ length: 200 }, () => connect<Api>(server.url, { authkey })));
    assert.equal(server.stats.open, 200);
    const sums = await Promise.all(clients.map((client, c) =>
      Promise.all(Array.from({ length: 50 }, (_, i) => client.add(c * 1000, i)))));
    sums.forEach((row, c) => assert.deepEqual(row, Array.from({ length: 50 }, (_, i) => c * 1000 + i)));
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
  });
});
