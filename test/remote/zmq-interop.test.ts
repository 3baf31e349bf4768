// A plain zeromq REQ socket (the articles' word count client) against a weft zmq+tcp:// server:
// it opens the session by hand (docs/protocol.md §2 and §10) and calls functions with
// hand-written MessagePack, one reply per request.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pack, unpack } from 'msgpackr';
import * as zmq from 'zeromq';
import { serve, type RpcServer } from '../../src/index.js';
import { until } from '../helpers.js';
import { answer, ask, CALL, DESCRIBE, ERROR, FAULT, frame, handshake, PING, REJECT, RESULT, WELCOME, YIELD, plainSocket } from './zmq-peer.js';

const authkey = 'zmq-interop-key';

describe('a plain zeromq REQ socket talking to a weft server', () => {
  let server: RpcServer;
  let calls = 0;
  let release = (): void => {};
  const api = {
    add(a: number, b: number): number {
      calls++;
      return a + b;
    },
    countWords(text: string): Record<string, number> {
      calls++;
      const counts: Record<string, number> = {};
      for (const word of text.split(/\s+/).filter(Boolean)) counts[word] = (counts[word] ?? 0) + 1;
      return counts;
    },
    *count(n: number): Generator<number, string> {
      for (let i = 1; i <= n; i++) yield i;
      return 'done';
    },
    /** Answers once the test lets it. */
    held(): Promise<string> {
      return new Promise((resolve) => (release = () => resolve('released')));
    },
  };
  before(async () => {
    server = await serve({ transport: 'zmq', authkey, expose: api, heartbeatInterval: 50, heartbeatTimeout: 150 });
  });
  after(() => server.close());

  test('authenticates by hand, then calls add(2, 3) and a word count', async () => {
    const req = plainSocket(zmq.Request, server.url);
    try {
      const welcome = await handshake(req, authkey);
      assert.equal(welcome.type, WELCOME);
      assert.equal(welcome.body.readUInt32BE(32) >= 1024, true, 'WELCOME announces the server\'s body limit');
      // CALL 1 [0, "add", [2, 3]], the example of protocol.md §4.1, byte for byte.
      const [result] = await ask(req, [frame(CALL, 1, Buffer.from('9300a36164649202 03'.replace(/ /g, ''), 'hex'))], 'CALL add');
      assert.deepEqual(result, { type: RESULT, id: 1, body: Buffer.from([0x05]) });
      const [counted] = await ask(req, [frame(CALL, 2, pack([0, 'countWords', ['the cat saw the dog']]))], 'CALL countWords');
      assert.equal(counted!.type, RESULT);
      assert.deepEqual(unpack(counted!.body), { the: 2, cat: 1, saw: 1, dog: 1 });
      const [described] = await ask(req, [frame(DESCRIBE, 3, pack([0]))], 'DESCRIBE');
      assert.deepEqual((unpack(described!.body) as string[][])[0]!.sort(), ['add', 'count', 'countWords', 'held']);
    } finally {
      req.close();
    }
  });

  test('one request gets exactly one reply: a generator\'s values and its result come together, a PING is answered with a PING', async () => {
    const req = plainSocket(zmq.Request, server.url);
    try {
      assert.equal((await handshake(req, authkey)).type, WELCOME);
      const reply = await ask(req, [frame(CALL, 7, pack([0, 'count', [3]]))], 'CALL count');
      assert.deepEqual(reply.map((f) => [f.type, f.id, unpack(f.body)]), [[YIELD, 7, 1], [YIELD, 7, 2], [YIELD, 7, 3], [RESULT, 7, 'done']]);
      assert.deepEqual(await ask(req, [frame(PING)], 'PING'), [{ type: PING, id: 0, body: Buffer.alloc(0) }]);
    } finally {
      req.close();
    }
  });

  test('a REQ peer waiting for a slow answer is not taken for a silent one; a silent DEALER is', async () => {
    const req = plainSocket(zmq.Request, server.url);
    const silent = plainSocket(zmq.Dealer, server.url);
    try {
      assert.equal((await handshake(req, authkey)).type, WELCOME);
      assert.equal((await handshake(silent, authkey)).type, WELCOME);
      await req.send(frame(CALL, 1, pack([0, 'held', []])));
      // Every other session goes quiet (the DEALER, and the earlier tests' closed sockets) and is
      // dropped after the heartbeat timeout (150 ms); the REQ waits for its reply all along.
      await until(() => server.stats.open === 1, 3000, 'every session but the waiting REQ peer\'s to time out');
      release();
      const [result] = await answer(req, 'CALL held');
      assert.deepEqual([result!.type, unpack(result!.body)], [RESULT, 'released']);
      const [fault] = await ask(silent, [frame(CALL, 1, pack([0, 'add', [1, 1]]))], 'a CALL from the dropped DEALER');
      assert.equal(fault!.type, FAULT, 'the silent DEALER\'s session is gone');
    } finally {
      req.close();
      silent.close();
    }
  });

  test('a wrong authkey gets REJECT, and nothing sent after it is evaluated', async () => {
    const before = calls;
    const req = plainSocket(zmq.Request, server.url);
    try {
      const reject = await handshake(req, 'not-the-key');
      assert.equal(reject.type, REJECT);
      assert.equal(reject.body.toString(), 'authentication failed: the authkey does not match');
      const [fault] = await ask(req, [frame(CALL, 1, pack([0, 'add', [1, 1]]))], 'CALL after REJECT');
      assert.equal(fault!.type, FAULT);
      assert.match(fault!.body.toString(), /not a weft peer: expected an empty HELLO frame to open a session/);
      assert.equal(calls, before, 'no exposed function ran');
      assert.equal(server.stats.refusedBy.authkey >= 1, true);
    } finally {
      req.close();
    }
  });

  test('a REQ peer that is not weft gets a FAULT that says what this is', async () => {
    const req = plainSocket(zmq.Request, server.url);
    try {
      const [fault] = await ask(req, [Buffer.from('What is the word count of this text?')], 'a plain text request');
      assert.equal(fault!.type, FAULT);
      assert.match(fault!.body.toString(), /^not a weft peer: .*this is a weft RPC server, see docs\/protocol\.md §10$/);
      const [again] = await ask(req, [Buffer.from([0xc1])], 'a second plain request');
      assert.equal(again!.type, FAULT, 'each request is answered, so the REQ socket is never stuck');
    } finally {
      req.close();
    }
  });

  test('a body that is not MessagePack gets an ERROR answer and the session stays', async () => {
    const req = plainSocket(zmq.Request, server.url);
    try {
      assert.equal((await handshake(req, authkey)).type, WELCOME);
      const [error] = await ask(req, [frame(CALL, 1, Buffer.from([0xc1]))], 'CALL with a bad body');
      assert.equal(error!.type, ERROR);
      // An Error: fixext 1 of type 0x65, then the error record (protocol.md §4.3).
      assert.deepEqual([...error!.body.subarray(0, 3)], [0xd4, 0x65, 0x00]);
      const record = unpack(error!.body.subarray(3)) as { name: string; message: string };
      assert.equal(record.name, 'ProtocolError');
      assert.match(record.message, /MessagePack|body/i);
      const [result] = await ask(req, [frame(CALL, 2, pack([0, 'add', [40, 2]]))], 'CALL add after it');
      assert.deepEqual([result!.type, unpack(result!.body)], [RESULT, 42]);
    } finally {
      req.close();
    }
  });
});
