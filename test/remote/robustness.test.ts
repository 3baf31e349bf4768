// Issue 4's robustness list, on 127.0.0.1 with port 0; every test is bounded and stops by itself.
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AuthenticationError, ProtocolError, RemoteError, connect, serve, type RefusalReason, type RefusalReport, type RpcServer } from '../../src/index.js';
import { Codec } from '../../src/remote/codec.js';
import { encodeFrame, FrameType, HEADER_SIZE, PROTOCOL_VERSION } from '../../src/remote/frame.js';
import { rawClient, rawConnect, rawServer } from './raw-peer.js';
import { until } from '../helpers.js';

const authkey = 'robust-key';
const api = {
  add(a: number, b: number): number {
    return a + b;
  },
  /** A large answer, for backpressure. */
  blob(kib: number): string {
    return 'x'.repeat(kib * 1024);
  },
};
type Api = typeof api;

describe('a server facing bad peers', () => {
  let server: RpcServer;
  const errors: Error[] = [];
  const reports: RefusalReport[] = [];
  let reportArrived = (): void => {};
  before(async () => {
    server = await serve({
      authkey, expose: api, handshakeTimeout: 300, heartbeatInterval: 50, heartbeatTimeout: 200, refusalReportInterval: 20,
      onError: (e) => errors.push(e),
      onRefused: (report) => {
        reports.push(report);
        reportArrived();
      },
    });
  });
  after(() => server.close());

  /** The next report to `onRefused` that counts `reason`. */
  async function reported(reason: RefusalReason): Promise<RefusalReport> {
    const deadline = Date.now() + 3000;
    for (;;) {
      const report = reports.find((r) => r.byReason[reason]);
      if (report) return report;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no refusal report counting ${reason} within 3000 ms; reports: ${reports.map((r) => r.message).join(' | ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        reportArrived = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  /** The server still answers a well-behaved client. */
  async function stillServing(): Promise<void> {
    const remote = await connect<Api>(server.url, { authkey });
    assert.equal(await remote.add(20, 22), 42);
    await remote.close();
  }

  test('a client with the wrong authkey gets AuthenticationError; the server goes on serving others', async () => {
    const refusedBefore = server.stats.refused;
    await assert.rejects(connect(server.url, { authkey: 'wrong' }), (error: unknown) => {
      assert.ok(error instanceof AuthenticationError);
      assert.match(error.message, /the server refused the connection: authentication failed: the authkey does not match/);
      return true;
    });
    assert.equal(server.stats.refused, refusedBefore + 1);
    assert.equal(server.stats.refusedBy.authkey, 1);
    // Counted and reported in aggregate, not one onError call per socket.
    assert.match((await reported('authkey')).message, /^refused 1 connection( in the last \d+ ms)?: 1 with a wrong authkey; from 127\.0\.0\.1 \(1\)$/);
    assert.ok(!errors.some((e) => e instanceof AuthenticationError));
    await stillServing();
  });

  test('a client that never completes the handshake is dropped at the timeout', async () => {
    const inbox = await rawConnect(server.port);
    assert.equal((await inbox.next()).type, FrameType.HELLO);
    const started = Date.now();
    await inbox.closed;
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 3000, `dropped after ${waited} ms (timeout 300 ms)`);
    const goodbye = inbox.frames.find((f) => f.type === FrameType.GOODBYE);
    assert.equal(goodbye?.body.toString(), 'the handshake did not complete within 300 ms');
    assert.match((await reported('timeout')).message, /1 too slow to authenticate/);
    assert.equal(server.stats.refusedBy.timeout, 1);
    await stillServing();
  });

  test('garbage bytes instead of a handshake close that connection only', async () => {
    const inbox = await rawConnect(server.port);
    await inbox.next();
    inbox.socket.write(randomBytes(4096));
    await inbox.closed;
    assert.equal(server.stats.refusedBy.protocol, 1);
    await stillServing();
  });

  test('garbage after the handshake earns a FAULT frame and a closed connection', async () => {
    const inbox = await rawClient(server.port, authkey);
    inbox.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    const fault = await inbox.answer();
    assert.equal(fault.type, FrameType.FAULT);
    assert.match(fault.body.toString(), /unsupported protocol version|exceeds the limit/);
    await inbox.closed;
    await stillServing();
  });

  test('a frame that claims 4 GiB is refused before anything is allocated', async () => {
    const inbox = await rawClient(server.port, authkey);
    const rssBefore = process.memoryUsage().rss;
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt32BE(0xffff_ffff, 0);
    header[4] = PROTOCOL_VERSION;
    header[5] = FrameType.CALL;
    inbox.socket.write(header);
    const fault = await inbox.answer();
    assert.equal(fault.type, FrameType.FAULT);
    assert.match(fault.body.toString(), /frame body of 4294967289 bytes exceeds the limit of 67108864 bytes/);
    await inbox.closed;
    assert.ok(process.memoryUsage().rss - rssBefore < 64 * 1024 * 1024, 'the server did not allocate the claimed size');
    await stillServing();
  });

  test('a frame with the wrong version earns a FAULT naming both versions', async () => {
    const inbox = await rawClient(server.port, authkey);
    const frame = encodeFrame(FrameType.CALL, 1, Buffer.from([0x90]));
    frame[4] = PROTOCOL_VERSION + 1;
    inbox.socket.write(frame);
    const fault = await inbox.answer();
    assert.equal(fault.type, FrameType.FAULT);
    assert.equal(fault.body.toString(), `unsupported protocol version ${PROTOCOL_VERSION + 1}: this peer speaks version ${PROTOCOL_VERSION}`);
    await inbox.closed;
    await stillServing();
  });

  test('a truncated frame followed by silence is dropped by the heartbeat', async () => {
    const inbox = await rawClient(server.port, authkey);
    const frame = new Codec().encodeFrame(FrameType.CALL, 1, [0, 'add', [1, 2]]);
    inbox.socket.write(frame.subarray(0, frame.length - 2));
    // The server pings while it waits, then gives up on a peer that says nothing.
    await inbox.closed;
    assert.ok(inbox.frames.some((f) => f.type === FrameType.PING));
    await stillServing();
  });

  test('valid frames with an unknown method, a wrong argument count or a bad body get a clear ERROR; the connection stays', async () => {
    const inbox = await rawClient(server.port, authkey);
    const codec = new Codec();
    const ask = async (id: number, body: unknown, type: number = FrameType.CALL) => {
      inbox.socket.write(codec.encodeFrame(type, id, body));
      const answer = await inbox.answer();
      assert.equal(answer.id, id);
      return [answer.type, codec.decode(answer.body)] as const;
    };
    const [t1, unknown] = await ask(1, [0, 'launchMissiles', []]);
    assert.equal(t1, FrameType.ERROR);
    assert.ok(unknown instanceof RemoteError);
    assert.equal(unknown.remoteName, 'TypeError');
    assert.equal(unknown.message, 'remote object #0 has no method "launchMissiles"; its methods are: add, blob');
    const [, arity] = await ask(2, [0, 'add', [1, 2, 3]]);
    assert.equal((arity as Error).message, 'add() takes at most 2 arguments, got 3');
    const [, shape] = await ask(3, 'not an array');
    assert.match((shape as Error).message, /a request body must be an array starting with an object id, got string/);
    const [, missing] = await ask(4, [99, 'add', [1, 2]]);
    assert.match((missing as Error).message, /there is no remote object #99/);
    const [, proto] = await ask(5, [0, 'constructor', []]);
    assert.match((proto as Error).message, /has no method "constructor"/);
    inbox.socket.write(encodeFrame(FrameType.CALL, 6, Buffer.from([0x92, 0x01])));
    const bad = await inbox.answer();
    assert.equal(bad.type, FrameType.ERROR);
    assert.match((codec.decode(bad.body) as Error).message, /not valid MessagePack/);
    const [t7, sum] = await ask(7, [0, 'add', [40, 2]]);
    assert.deepEqual([t7, sum], [FrameType.RESULT, 42]);
    inbox.socket.destroy();
  });
});

test('a client that sends calls and never reads the answers is throttled; memory stays bounded', async () => {
  const server = await serve({ authkey, expose: api });
  const inbox = await rawClient(server.port, authkey);
  inbox.socket.pause();
  const codec = new Codec();
  const calls = 2000;
  inbox.socket.write(Buffer.concat(Array.from({ length: calls }, (_, i) => codec.encodeFrame(FrameType.CALL, i + 1, [0, 'blob', [64]]))));
  // 2000 answers of 64 KiB would be 125 MiB; the server stops reading once 4 MiB wait unsent.
  let peak = 0;
  await until(() => {
    peak = Math.max(peak, server.stats.bufferedBytes);
    return server.stats.bufferedBytes > 4 * 1024 * 1024;
  }, 10_000, 'the server to buffer answers');
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    peak = Math.max(peak, server.stats.bufferedBytes);
  }
  assert.ok(peak < 8 * 1024 * 1024, `the server buffered ${peak} bytes`);
  inbox.socket.resume();
  await until(() => inbox.frames.length >= calls, 30_000, 'every answer');
  assert.ok(inbox.frames.every((f) => f.type === FrameType.RESULT && f.body.length > 64 * 1024));
  inbox.socket.destroy();
  await server.close();
});

describe('a client facing a bad server', () => {
  test('a server that cannot prove the authkey is refused with AuthenticationError', async () => {
    const impostor = await rawServer((inbox) => {
      inbox.socket.write(encodeFrame(FrameType.HELLO, 0, randomBytes(32)));
      void inbox.next().then(() => {
        inbox.socket.write(encodeFrame(FrameType.WELCOME, 0, Buffer.alloc(40)));
      }, () => {});
    });
    try {
      await assert.rejects(connect(`tcp://127.0.0.1:${impostor.port}`, { authkey }), (error: unknown) => {
        assert.ok(error instanceof AuthenticationError);
        assert.equal(error.message, 'the server could not prove it knows the authkey');
        return true;
      });
    } finally {
      await impostor.close();
    }
  });

  test('a server speaking another protocol version is a ProtocolError', async () => {
    const future = await rawServer((inbox) => {
      const hello = encodeFrame(FrameType.HELLO, 0, randomBytes(32));
      hello[4] = 7;
      inbox.socket.write(hello);
    });
    try {
      await assert.rejects(connect(`tcp://127.0.0.1:${future.port}`, { authkey }), (error: unknown) => {
        assert.ok(error instanceof ProtocolError);
        assert.match(error.message, /unsupported protocol version 7: this peer speaks version 1/);
        return true;
      });
    } finally {
      await future.close();
    }
  });

  test('a server that says nothing fails the handshake at the timeout', async () => {
    const silent = await rawServer(() => {});
    try {
      await assert.rejects(connect(`tcp://127.0.0.1:${silent.port}`, { authkey, handshakeTimeout: 200 }),
        /the server did not complete the handshake within 200 ms/);
    } finally {
      await silent.close();
    }
  });
});
