import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from '../../src/index.js';
import { Packr } from 'msgpackr/index-no-eval';
import { NOT_PLAIN, NO_ROOM, packPlainTree } from '../../src/sync/plain-pack.js';
import { isPlainTree } from '../../src/sync/plain-tree.js';

/** Through a queue and back: what a consumer would get. */
async function roundTrip<T>(value: T): Promise<T> {
  const queue = new Queue<T>();
  await queue.put(value);
  return queue.get();
}

describe('Queue item encoding', { timeout: 30_000 }, () => {
  test('typed arrays and Buffers come back as the same class, with only the view\'s bytes, in a buffer of their own', async () => {
    const backing = new ArrayBuffer(64);
    new Uint8Array(backing).forEach((_, i, bytes) => { bytes[i] = i; });
    const views: ArrayBufferView[] = [
      new Int8Array([-1, 2]), new Uint8Array([1, 255]), new Uint8ClampedArray([0, 255]), new Int16Array([-300, 300]),
      new Uint16Array([65535]), new Int32Array([-(2 ** 31)]), new Uint32Array([2 ** 32 - 1]), new Float32Array([1.5, NaN]),
      new Float64Array([Math.PI, -0, Infinity]), new BigInt64Array([-(2n ** 63n)]), new BigUint64Array([2n ** 64n - 1n]),
      new Float64Array(backing, 8, 3), new Uint8Array(backing, 5, 40), new Uint8Array(0), Buffer.from('buffer bytes'),
    ];
    for (const view of views) {
      const copy = await roundTrip(view);
      assert.equal(copy.constructor, view.constructor);
      assert.deepStrictEqual(copy, view);
      assert.notEqual(copy.buffer, view.buffer);
      assert.equal(copy.byteLength, view.byteLength);
    }
  });

  test('a typed array on shared memory arrives as a copy', async () => {
    const shared = new Int32Array(new SharedArrayBuffer(8));
    shared[0] = 7;
    const copy = await roundTrip(shared);
    shared[0] = 8;
    assert.equal(copy[0], 7);
  });

  test('plain trees keep exact values; other objects keep the structured-clone meaning', async () => {
    const plain = { id: 1, name: 'héllo 🧵', tags: ['a', 'b'], nested: { deep: [1.5, null, undefined, true, { x: 2 ** 53 + 2 }] }, big: -(2 ** 60), tiny: 5e-324, nan: NaN };
    assert.deepStrictEqual(await roundTrip(plain), plain);
    const shared = { s: 1 };
    const withSharing = await roundTrip({ a: shared, b: shared });
    assert.equal(withSharing.a, withSharing.b, 'a shared reference stays shared');
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    const cycleCopy = await roundTrip(cyclic);
    assert.equal(cycleCopy.self, cycleCopy);
    const negativeZero = await roundTrip({ z: -0, list: [-0] });
    assert.ok(Object.is(negativeZero.z, -0) && Object.is(negativeZero.list[0], -0));
    // eslint-disable-next-line no-sparse-arrays
    const sparse = await roundTrip([1, , 3]);
    assert.equal(1 in sparse, false);
    const withProperty = Object.assign([1, 2], { extra: 'kept' });
    assert.equal((await roundTrip(withProperty)).extra, 'kept');
    const map = await roundTrip({ m: new Map([[1, new Date(5)]]), s: new Set(['x']), when: new Date(7), n: 10n, bytes: new Uint8Array([9]) });
    assert.deepStrictEqual(map, { m: new Map([[1, new Date(5)]]), s: new Set(['x']), when: new Date(7), n: 10n, bytes: new Uint8Array([9]) });
    const protoKey = await roundTrip(JSON.parse('{"__proto__": {"polluted": true}}') as object);
    assert.equal(Object.getPrototypeOf(protoKey), Object.prototype);
    assert.deepStrictEqual(Object.keys(protoKey), ['__proto__']);
    class Point { constructor(public x: number, public y: number) {} }
    const point = await roundTrip(new Point(1, 2));
    assert.equal(Object.getPrototypeOf(point), Object.prototype);
    assert.deepStrictEqual({ ...point }, { x: 1, y: 2 });
    assert.deepStrictEqual(await roundTrip({ lone: 'a\ud800b' }), { lone: 'a\ud800b' });
    const nullProto = Object.assign(Object.create(null) as object, { k: 1 });
    const nullCopy = await roundTrip(nullProto);
    assert.equal(Object.getPrototypeOf(nullCopy), Object.prototype);
    assert.deepStrictEqual({ ...nullCopy }, { k: 1 });
  });

  test('which trees take the msgpack path', () => {
    assert.equal(isPlainTree({ id: 1, tags: ['a'], nested: { ok: null } }), true);
    assert.equal(isPlainTree([1, 'two', undefined, false]), true);
    const shared = {};
    for (const refused of [{ a: shared, b: shared }, { z: -0 }, { d: new Date(0) }, { m: new Map() }, { b: 1n }, { f: () => 1 }, { s: 'a\udc00' }, { t: new Uint8Array(1) }, [1, , 2], new (class A {})()]) {
      assert.equal(isPlainTree(refused), false, `refused: ${String(Object.keys(refused))}`);
    }
    let deep: object = {};
    for (let i = 0; i < 20; i++) deep = { deep };
    assert.equal(isPlainTree(deep), false, 'deeper than 16 levels');
    assert.equal(isPlainTree(Array.from({ length: 300 }, (_, i) => i)), false, 'more than 256 values');
  });

  test('plain-pack writes msgpack that reads back as the structured clone, and refuses what isPlainTree refuses', () => {
    const unpackr = new Packr({ useRecords: false, moreTypes: false });
    const scratch = Buffer.alloc(4096);
    const scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
    const wide = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]));
    const accepted: object[] = [
      { id: 1, name: 'item', tags: ['a', 'b'] },
      [0, 127, 128, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 + 2, -1, -32, -33, -(2 ** 31), -(2 ** 31) - 1, 0.5, NaN, Infinity, -Infinity, 5e-324],
      { short: 'héllo 🧵 ∑', long: 'é🧵x'.repeat(40), empty: '', ascii: 'y'.repeat(200), 'ключ 🔑': true },
      { u: undefined, n: null, f: false, nested: { deep: [[{ x: [] }]] } },
      wide, Array.from({ length: 40 }, (_, i) => `s${i}`), Object.assign(Object.create(null) as object, { k: 1 }),
    ];
    for (const value of accepted) {
      const length = packPlainTree(value, scratch, scratchView);
      assert.ok(length > 0, `packed: ${JSON.stringify(value)}`);
      assert.equal(isPlainTree(value), true);
      assert.deepStrictEqual(unpackr.unpack(scratch.subarray(0, length)), structuredClone(value));
    }
    const shared = {};
    const holeWithName = Object.assign([1, , 3], { x: 1 }); // eslint-disable-line no-sparse-arrays
    let deep: object = {};
    for (let i = 0; i < 20; i++) deep = { deep };
    for (const refused of [{ a: shared, b: shared }, { z: -0 }, [-0], { d: new Date(0) }, { b: 1n }, { f: () => 1 }, { s: 'a\udc00' }, { s: 'a\ud800'.repeat(40) }, { s: '\ud800' }, { 'k\udfff': 1 },
      { t: new Uint8Array(1) }, [1, , 2], holeWithName, Object.assign([1], { extra: 2 }), JSON.parse('{"__proto__": 1}') as object, new (class A {})(), deep, Array.from({ length: 300 }, (_, i) => i)]) { // eslint-disable-line no-sparse-arrays
      assert.equal(packPlainTree(refused, scratch, scratchView), NOT_PLAIN, `refused: ${String(Object.keys(refused))}`);
    }
    assert.equal(packPlainTree({ big: 'x'.repeat(5000) }, scratch, scratchView), NO_ROOM);
  });

  test('a plain tree bigger than the encoder\'s scratch buffer still arrives whole', async () => {
    const big = { text: 'é'.repeat(40_000), list: ['x'.repeat(30_000), 1.5] };
    assert.deepStrictEqual(await roundTrip(big), big);
  });

  test('mixed items of every kind wrap around a small ring intact and in order', async () => {
    const queue = new Queue<unknown>({ maxBytes: 512 });
    const items = Array.from({ length: 400 }, (_, i) => {
      switch (i % 5) {
        case 0: return i;
        case 1: return new Float64Array([i, i + 0.5, -i]);
        case 2: return { id: i, name: 'x'.repeat(i % 37) };
        case 3: return 'é'.repeat(i % 41);
        default: return new Map([[i, [i]]]);
      }
    });
    const producing = (async () => { for (const item of items) await queue.put(item); })();
    for (const item of items) assert.deepStrictEqual(await queue.get(), item);
    await producing;
  });
});
