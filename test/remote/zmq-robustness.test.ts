// A zmq+tcp:// server facing bad peers: garbage at the TCP, ZeroMQ and weft levels, oversize
// messages and frames, a wrong authkey. Each is refused, nothing it sent is evaluated, and the
// server goes on serving the well-behaved client it had all along and new ones.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { pack, unpack } from 'msgpackr';
import * as zmq from 'zeromq';
import { AuthenticationError, connect, serve, type RemoteRoot, type RpcServer } from '../../src/index.js';
import { until } from '../helpers.js';
import { ask, CALL, FAULT, frame, handshake, HELLO, RESULT, WELCOME, plainSocket } from './zmq-peer.js';

const authkey = 'zmq-robust-key';
const MAX_FRAME = 64 * 1024;

describe('a zmq+tcp:// server facing bad peers', () => {
  let server: RpcServer;
  let calls = 0;
  const api = {
    add(a: number, b: number): number {
      calls++;
      return a + b;
    },
  };
  let good: RemoteRoot<typeof api>;
  before(async () => {
    server = await serve({ transport: 'zmq', authkey, expose: api, maxFrameSize: MAX_FRAME, handshakeTimeout: 300 });
    good = await connect<typeof api>(server.url, { authkey });
  });
  after(async () => {
    await good.close();
    await server.close();
  });

  /** The client connected from the start still gets answers, and a new one can connect. */
  async function stillServing(): Promise<void> {
    assert.equal(await good.add(20, 22), 42);
    const fresh = await connect<typeof api>(server.url, { authkey });
    assert.equal(await fresh.add(1, 2), 3);
    await fresh.close();
  }

  test('bytes that are not ZeroMQ at all: what libzmq makes of them is refused as not weft', async () => {
    const before = server.stats.refusedBy.protocol;
    const callsBefore = calls;
    const socket = tcpConnect({ host: '127.0.0.1', port: server.port });
    socket.on('error', () => {});
    await once(socket, 'connect');
    // libzmq still speaks ZMTP/1.0, where a first byte other than 0xff is a length: it cuts this
    // stream into messages and hands them on, and weft refuses each one (a FAULT back).
    socket.write(`GET / HTTP/1.1\r\nHost: weft\r\n\r\n${'x'.repeat(4096)}`);
    await until(() => server.stats.refusedBy.protocol > before, 3000, 'weft to refuse the messages libzmq made of an HTTP request');
    socket.destroy();
    assert.equal(calls, callsBefore, 'nothing of it was evaluated');
    await stillServing();
  });

  test('ZeroMQ messages that are not weft frames get a FAULT saying so', async () => {
    const before = { ...server.stats.refusedBy };
    const callsBefore = calls;
    const dealer = plainSocket(zmq.Dealer, server.url);
    try {
      const cases: [Buffer, RegExp][] = [
        [Buffer.from('hello'), /frame body of 1751477350 bytes exceeds the limit of 1024 bytes/], // 'hell' as a length
        [Buffer.from('hi!'), /a message part of 3 bytes is not whole weft frames/],
        [frame(HELLO, 0, Buffer.alloc(0), 9), /unsupported protocol version 9/],
        [frame(CALL, 1, pack([0, 'add', [1, 2]])), /expected an empty HELLO frame to open a session, got type 0x10/],
        [frame(HELLO, 0, Buffer.alloc(2048)), /frame body of 2048 bytes exceeds the limit of 1024 bytes/],
      ];
      for (const [message, expected] of cases) {
        const [fault] = await ask(dealer, [message], `the garbage ${message.subarray(0, 12).toString('hex')}`);
        assert.equal(fault!.type, FAULT);
        assert.match(fault!.body.toString(), /^not a weft peer: /);
        assert.match(fault!.body.toString(), expected);
      }
      // A good HELLO with two stray bytes after it: the HELLO is answered, then the FAULT.
      const reply = await ask(dealer, [Buffer.concat([frame(HELLO), Buffer.from([0, 0])])], 'HELLO and two stray bytes');
      assert.deepEqual(reply.map((f) => f.type), [HELLO, FAULT]);
      assert.match(reply[1]!.body.toString(), /a message part of 12 bytes is not whole weft frames/);
      assert.equal(server.stats.refusedBy.protocol - before.protocol, cases.length + 1);
      assert.equal(calls, callsBefore, 'nothing a stranger sent was evaluated');
    } finally {
      dealer.close();
    }
    await stillServing();
  });

  test('a message part above maxMessageSize: libzmq disconnects that peer alone', async () => {
    const dealer = plainSocket(zmq.Dealer, server.url);
    const disconnected = new Promise<void>((resolve) => dealer.events.on('disconnect', () => resolve()));
    try {
      await dealer.send(Buffer.alloc(MAX_FRAME + 11)); // maxMessageSize is MAX_FRAME + the 10-byte header
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('the server did not disconnect an oversize sender within 5 s')), 5000).unref());
      await Promise.race([disconnected, timeout]);
    } finally {
      dealer.close();
    }
    await stillServing();
  });

  test('an authenticated peer that breaks framing loses its session, and only its own', async () => {
    const dealer = plainSocket(zmq.Dealer, server.url);
    try {
      assert.equal((await handshake(dealer, authkey, MAX_FRAME)).type, WELCOME);
      const [ok] = await ask(dealer, [frame(CALL, 1, pack([0, 'add', [2, 2]]))], 'a CALL');
      assert.deepEqual([ok!.type, unpack(ok!.body)], [RESULT, 4]);
      // A header that claims a body above the limit: refused from its length, before any body is read.
      const claim = frame(CALL, 2, pack([0, 'add', [1, 1]]));
      claim.writeUInt32BE(MAX_FRAME + 7, 0);
      const [fault] = await ask(dealer, [claim], 'an oversize claim');
      assert.equal(fault!.type, FAULT);
      assert.match(fault!.body.toString(), new RegExp(`frame body of ${MAX_FRAME + 1} bytes exceeds the limit of ${MAX_FRAME} bytes`));
      const [forgotten] = await ask(dealer, [frame(CALL, 3, pack([0, 'add', [1, 1]]))], 'a CALL after the FAULT');
      assert.equal(forgotten!.type, FAULT, 'the session is gone: a new one starts with HELLO');
    } finally {
      dealer.close();
    }
    await stillServing();
  });

  test('a wrong authkey is refused with AuthenticationError', async () => {
    const before = server.stats.refusedBy.authkey;
    await assert.rejects(connect(server.url, { authkey: 'wrong' }), (error: Error) => {
      assert.ok(error instanceof AuthenticationError);
      assert.match(error.message, /the authkey does not match/);
      return true;
    });
    assert.equal(server.stats.refusedBy.authkey, before + 1);
    await stillServing();
  });
});
