import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr/index-no-eval';
import { DECLINED, fastPack } from '../../src/remote/fast-pack.js';
import { Codec } from '../../src/remote/codec.js';
import { HEADER_SIZE } from '../../src/remote/frame.js';

// The codec's msgpackr settings (codec.ts): fastPack must write exactly what they write.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true, int64AsType: 'bigint' });

const written = (value: unknown, room = 1 << 20): Buffer | undefined => {
  const out = Buffer.alloc(room);
  const end = fastPack(value, out, 3);
  return end === DECLINED ? undefined : out.subarray(3, end);
};

test('fastPack writes the same bytes as msgpackr for every number, string, array and object format', () => {
  const values: unknown[] = [
    0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -1, -32, -33, -128, -129, -32768, -32769,
    -(2 ** 31), -(2 ** 31) - 1, 0.5, -0, NaN, Infinity, -Infinity, 1e300, Number.MAX_SAFE_INTEGER,
    '', 'a', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(255), 'x'.repeat(256), 'x'.repeat(70_000),
    'é', 'é'.repeat(15), 'é'.repeat(16), 'é'.repeat(200), '日本'.repeat(50), '😀'.repeat(10), 'é'.repeat(40_000),
    true, false, null, [], [1, 2, 3], new Array(20).fill(1), new Array(70_000).fill(0),
    {}, { a: 1 }, { a: { b: [{ c: 'd' }] } }, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
    { 2: 'two', 1: 'one', b: 'b', a: 'a' }, { é: 1, '': null },
    [0, 'echo', [{ id: 42, name: 'weft', tags: ['a', 'b'], score: 0.5 }]],
  ];
  for (const value of values) {
    const bytes = written(value);
    assert.ok(bytes, `fastPack declined ${String(value).slice(0, 30)}`);
    assert.deepEqual(bytes, packr.pack(value), `bytes of ${JSON.stringify(value).slice(0, 40)}`);
  }
});

test('fastPack declines the shapes msgpackr must write, and values that do not fit', () => {
  class Point {
    x = 1;
  }
  const nested: unknown[] = [];
  let inner = nested;
  for (let i = 0; i < 40; i++) inner.push((inner = []));
  for (const [index, value] of [undefined, 1n, new Map(), new Set([1]), new Date(0), new Uint8Array(2), new Error('x'), new Point(),
    Object.create(null), [undefined], { a: undefined }, { f: () => 1 }, Symbol('s'), nested].entries()) {
    assert.equal(written(value), undefined, `should decline value #${index}`);
  }
  assert.equal(written('x'.repeat(100), 50), undefined);
  assert.equal(written([1, 2, 3, 'long string here'], 8), undefined);
});

test('Codec frames from the fast path and from msgpackr decode alike, and frames do not overwrite each other', () => {
  const codec = new Codec();
  const frames = Array.from({ length: 5000 }, (_, i) => [i, codec.encodeFrame(0x12, i, { i, s: 'v'.repeat(i % 50), m: i % 7 === 0 ? new Map([[i, i]]) : null })] as const);
  for (const [i, frame] of frames) {
    assert.equal(frame.readUInt32BE(0), frame.length - 4);
    assert.equal(frame.readUInt32BE(6), i);
    assert.deepEqual(codec.decode(frame.subarray(HEADER_SIZE)), { i, s: 'v'.repeat(i % 50), m: i % 7 === 0 ? new Map([[i, i]]) : null });
  }
  const big = { data: 'y'.repeat(100_000) };
  assert.deepEqual(codec.decode(codec.encodeFrame(0x12, 1, big).subarray(HEADER_SIZE)), big);
});
