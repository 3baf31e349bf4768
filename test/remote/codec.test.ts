import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RemoteError, TimeoutError, CancelledError, ProtocolError } from '../../src/index.js';
import { Codec } from '../../src/remote/codec.js';
import { HEADER_SIZE } from '../../src/remote/frame.js';

const codec = new Codec();
const roundTrip = (value: unknown): unknown => codec.decode(codec.encodeFrame(0x20, 1, value).subarray(HEADER_SIZE));

test('Map, Set, Date, BigInt, typed arrays, undefined and nested objects round-trip', () => {
  const value = {
    map: new Map<unknown, unknown>([[1, 'one'], ['k', { nested: [1, 2] }]]),
    set: new Set(['a', 'b']),
    date: new Date(1_700_000_000_123),
    small: 42n,
    huge: 2n ** 100n + 1n,
    negative: -(2n ** 70n),
    u8: new Uint8Array([1, 2, 255]),
    f64: new Float64Array([1.5, -2.25]),
    i32: new Int32Array([-7]),
    missing: undefined,
    list: [{ a: 1 }, { a: 2 }, { a: 3 }, { a: 4 }],
  };
  assert.deepEqual(roundTrip(value), value);
  const back = roundTrip(value) as typeof value;
  assert.ok(back.map instanceof Map && back.set instanceof Set && back.date instanceof Date);
  assert.ok(back.f64 instanceof Float64Array);
  assert.equal(Object.getPrototypeOf(back.list[0]), Object.prototype, 'plain objects stay plain objects, not Maps');
});

test('Maps nested anywhere keep their identity as Maps; the values sent are not modified', () => {
  const inner = new Map<unknown, unknown>([[1, new Set([new Map([['deep', true]])])]]);
  const value = { list: [new Map([[{ key: 'object' }, inner]])], plain: { a: [1, 2] } };
  const back = roundTrip(value) as typeof value;
  assert.deepEqual(back, value);
  assert.ok(value.list[0] instanceof Map, 'the caller’s value is left as it was');
  const [[key, nested]] = [...(back.list[0] as Map<unknown, Map<unknown, Set<Map<string, boolean>>>>)];
  assert.deepEqual(key, { key: 'object' });
  assert.ok([...nested!.get(1)!][0] instanceof Map);
});

test('a plain MessagePack map from another implementation reads as an object', () => {
  // { "a": 1, "b": [true] } written by hand: fixmap 2, "a" 1, "b" [true]
  assert.deepEqual(codec.decode(Buffer.from([0x82, 0xa1, 0x61, 0x01, 0xa1, 0x62, 0x91, 0xc3])), { a: 1, b: [true] });
});

test('an Error arrives as RemoteError with name, message, stack, cause and own properties', () => {
  const original = Object.assign(new RangeError('out of range', { cause: new Error('root cause') }), { detail: 7 });
  const error = roundTrip(original) as RemoteError;
  assert.ok(error instanceof RemoteError);
  assert.equal(error.remoteName, 'RangeError');
  assert.equal(error.message, 'out of range');
  assert.match(error.remoteStack ?? '', /RangeError: out of range/);
  assert.equal((error as unknown as { detail: number }).detail, 7);
  assert.ok(error.cause instanceof RemoteError);
  assert.equal((error.cause as RemoteError).message, 'root cause');
});

test("weft's own errors keep their class across the wire, the remote original as cause", () => {
  const timeout = roundTrip(new TimeoutError('nothing came')) as TimeoutError;
  assert.ok(timeout instanceof TimeoutError);
  assert.equal(timeout.code, 'weft:timeout');
  assert.ok(timeout.cause instanceof RemoteError);
  assert.ok(roundTrip(new CancelledError()) instanceof CancelledError);
});

test('a malformed error payload becomes a RemoteError that says so', () => {
  // fixext1 0x65 then a msgpack positive int instead of the error map
  const error = codec.decode(Buffer.from([0xd4, 0x65, 0x00, 0x05])) as RemoteError;
  assert.ok(error instanceof RemoteError);
  assert.match(error.message, /malformed error: number/);
});

test('nothing received is evaluated: record keys built to break out of generated code stay keys', () => {
  const hostile = 'a:1})+(globalThis.__weftPwned=1)+({b';
  const records = Array.from({ length: 10 }, (_, i) => ({ [hostile]: i, plain: i }));
  const back = roundTrip(records) as Record<string, number>[];
  assert.equal((globalThis as Record<string, unknown>).__weftPwned, undefined);
  assert.deepEqual(back, records);
});

test('a body that is not MessagePack is a ProtocolError', () => {
  assert.throws(() => codec.decode(Buffer.from([0x92, 0x01])), ProtocolError);
  assert.throws(() => codec.decode(Buffer.from([0x01, 0x02])), ProtocolError);
  assert.throws(() => codec.decode(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])), (error: unknown) => error instanceof ProtocolError && /not valid MessagePack/.test(error.message));
});

test('references need an RPC connection: byRef over a bare codec is a TypeError', async () => {
  const { byRef } = await import('../../src/index.js');
  assert.throws(() => codec.encodeFrame(0x20, 1, byRef({ x: 1 })), /can only cross a connection that carries remote objects/);
});

test('decoded binary values are copies: decoding the next body does not change them', () => {
  // Small bodies are read from a scratch buffer the next decode overwrites; large ones in place.
  for (const size of [16, 10_000]) {
    const first = roundTrip({ bytes: Buffer.alloc(size, 1) }) as { bytes: Buffer };
    const second = roundTrip({ bytes: Buffer.alloc(size, 2) }) as { bytes: Buffer };
    assert.ok(Buffer.isBuffer(first.bytes), `a Buffer of ${size} bytes arrives as a Buffer`);
    assert.deepEqual(first.bytes, Buffer.alloc(size, 1), `the first ${size}-byte value is unchanged`);
    assert.deepEqual(second.bytes, Buffer.alloc(size, 2));
  }
});

test('a function cannot be sent: a TypeError names it, instead of arriving as undefined', () => {
  const codec = new Codec();
  assert.throws(() => codec.encode({ onDone: function onDone() {} }), /a function \(onDone\) cannot be sent/);
  assert.throws(() => codec.encodeFrame(0x10, 1, [() => 1]), TypeError);
});
