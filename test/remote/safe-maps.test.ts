// Issue 11, part 4b: a decoded body is safe for a naive recursive merge into a plain object.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr/index-no-eval';
import { ProtocolError, connect, serve } from '../../src/index.js';
import { Codec } from '../../src/remote/codec.js';
import { FrameType, encodeFrame } from '../../src/remote/frame.js';
import { naiveMerge, nestedErrors, pollutingMap } from './hostile-bodies.js';
import { rawClient } from './raw-peer.js';

const codec = new Codec();
const packr = new Packr({ useRecords: false });

afterEach(() => {
  // A failed test must not leave the rest of the run polluted.
  delete (Object.prototype as Record<string, unknown>).polluted;
});

const hostile: [string, Buffer][] = [
  ['constructor.prototype', pollutingMap('constructor', 'prototype')],
  ['constructor.prototype, keys as str 8', pollutingMap('constructor', 'prototype', true)],
  ['__proto__', Buffer.concat([Buffer.from([0x81]), packr.pack('__proto__'), packr.pack({ polluted: 'yes' })])],
  ['prototype', Buffer.concat([Buffer.from([0x81]), packr.pack('prototype'), packr.pack({ polluted: 'yes' })])],
  ['deep inside arrays and maps', Buffer.concat([Buffer.from([0x91, 0x81, 0xa1, 0x61, 0x92, 0x01]), pollutingMap('constructor', 'prototype')])],
  ['in an error’s own properties', Buffer.concat([Buffer.from([0xd4, 0x65, 0x00, 0x83]), packr.pack('name'), packr.pack('Error'),
    packr.pack('message'), packr.pack('m'), packr.pack('props'), pollutingMap('constructor', 'prototype')])],
  ['through a record definition', Buffer.concat([Buffer.from([0xd4, 0x72, 0x40, 0x91]), packr.pack('constructor'), packr.pack({ prototype: { polluted: 'yes' } })])],
];

test('the merge in these tests is the vulnerable kind: the same data from JSON.parse pollutes Object.prototype', () => {
  naiveMerge({}, JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}}}'));
  assert.equal(({} as Record<string, unknown>).polluted, 'yes');
});

test('bodies that would pollute Object.prototype through a naive merge are refused with ProtocolError', () => {
  for (const [what, body] of hostile) {
    let decoded: unknown;
    assert.throws(() => (decoded = codec.decode(body)), (error: unknown) => error instanceof ProtocolError
      && /__proto__|constructor|prototype|extension type 0x72/.test(error.message), what);
    naiveMerge({}, decoded);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, what);
  }
});

test('scalars under __proto__, constructor and prototype are kept, and merging them pollutes nothing', () => {
  const body = Buffer.concat([Buffer.from([0x84]), packr.pack('constructor'), packr.pack('Ferrari'), packr.pack('prototype'), packr.pack(7),
    packr.pack('__proto__'), packr.pack('x'), packr.pack('car'), pollutingMap('maker', 'country')]);
  const decoded = codec.decode(body) as Record<string, unknown>;
  // msgpackr renames __proto__, so that no key sets a prototype.
  assert.deepEqual(decoded, { constructor: 'Ferrari', prototype: 7, __proto_: 'x', car: { maker: { country: { polluted: 'yes' } } } });
  const target = naiveMerge({}, decoded);
  assert.equal(target.constructor, 'Ferrari');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({}).constructor, Object);
  assert.equal(typeof Object.assign, 'function');
});

test('the sender refuses the same shapes with a TypeError, on the fast path and on msgpackr’s', () => {
  for (const value of [
    { constructor: { prototype: { polluted: 'yes' } } },
    { list: [{ prototype: [1] }] },
    JSON.parse('{"__proto__":{"polluted":"yes"}}'),
    { constructor: { name: 'Ferrari' }, when: new Date(0) },
    { prototype: new Map() },
  ]) {
    assert.throws(() => codec.encode(value), (error: unknown) => error instanceof TypeError
      && /cannot be sent: it has a map key "(constructor|prototype|__proto__)" holding/.test(error.message), JSON.stringify(value));
  }
  assert.deepEqual(codec.decode(codec.encode({ constructor: 'Ferrari', nested: { prototype: null } })), { constructor: 'Ferrari', nested: { prototype: null } });
});

test('over RPC, a hostile call argument never reaches the handler: the caller gets a ProtocolError, the connection stays', async () => {
  const seen: unknown[] = [];
  const server = await serve({ authkey: 'maps', expose: { merge: (value: unknown) => (seen.push(value), naiveMerge({}, value), 'merged'), ping: () => 'pong' } });
  try {
    const inbox = await rawClient(server.port, 'maps');
    const call = (id: number, argument: Buffer): void => {
      // [target 0, method, [argument]] with the argument's bytes as they are
      const body = Buffer.concat([Buffer.from([0x93, 0x00]), packr.pack('merge'), Buffer.from([0x91]), argument]);
      inbox.socket.write(encodeFrame(FrameType.CALL, id, body));
    };
    let id = 0;
    for (const body of [...hostile.map(([, body]) => body), nestedErrors(4000)]) {
      call(++id, body);
      const answer = await inbox.answer();
      assert.equal(answer.type, FrameType.ERROR);
      assert.equal(answer.id, id);
      const error = codec.decode(answer.body) as Error;
      assert.ok(error instanceof ProtocolError, String(error));
    }
    assert.deepEqual(seen, []);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const remote = await connect<{ ping(): string }>(server.url, { authkey: 'maps' });
    assert.equal(await remote.ping(), 'pong');
    await remote.close();
    inbox.socket.destroy();
  } finally {
    await server.close();
  }
});
