// Properties of the codec under the limits of issue 11: what weft writes, weft reads back the same;
// the fast reader (fast-unpack.ts) reads exactly what msgpackr reads, or leaves the body to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr/index-no-eval';
import { ProtocolError } from '../../src/index.js';
import { Codec } from '../../src/remote/codec.js';
import { checkBody } from '../../src/remote/body-check.js';
import { DECLINED, fastUnpack } from '../../src/remote/fast-unpack.js';

// The codec's msgpackr settings (codec.ts), without the body check: the reference reader.
const reference = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true, int64AsType: 'bigint', copyBuffers: true });

const WATCHED = new Set(['__proto__', 'constructor', 'prototype']);
const key = fc.string({ unit: fc.constantFrom('a', 'b', 'é', '_', 'x', '1', '😀'), maxLength: 12 }).filter((k) => !WATCHED.has(k));

/** Values weft sends: what a handler takes and returns (errors are checked on their own below). */
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, undefined),
    fc.integer(),
    fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
    fc.double().filter((x) => !Object.is(x, -0)), // -0 is written as the integer 0, as msgpackr does
    fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 300 }),
    fc.date({ noInvalidDate: true }),
    fc.float64Array({ maxLength: 4, noNaN: true }),
    fc.int32Array({ maxLength: 4 }),
    fc.bigInt64Array({ maxLength: 2 }),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)), // a Uint8Array arrives as a Buffer
    fc.uint8Array({ maxLength: 8 }).map((bytes) => bytes.buffer),
    fc.uint8Array({ maxLength: 8 }).map((bytes) => new DataView(bytes.buffer)),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(key, tie('value'), { maxKeys: 5, noNullPrototype: true }),
    fc.array(fc.tuple(fc.oneof(fc.integer(), key), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
    fc.array(fc.oneof(fc.integer(), key), { maxLength: 4 }).map((items) => new Set(items)),
  ),
}));

/** `value` with each invalid Date replaced by a mark: deepStrictEqual finds two of them unequal (NaN times). */
function comparable(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? INVALID_DATE : value;
  if (Array.isArray(value)) return value.map(comparable);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [comparable(k), comparable(v)]));
  if (value instanceof Set) return new Set([...value].map(comparable));
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v)]));
  }
  return value;
}
const INVALID_DATE = Symbol('invalid date');

test('every value weft writes is read back the same, through the fast reader or through msgpackr (property)', () => {
  const codec = new Codec();
  fc.assert(fc.property(value, (original) => {
    const body = Buffer.from(codec.encode(original));
    assert.equal(checkBody(body, 0, body.length), undefined);
    assert.deepEqual(codec.decode(body), original);
  }), { numRuns: 2000 });
});

test('deep values weft writes are read back the same, up to the writer’s own limit (property)', () => {
  const codec = new Codec();
  let refused = 0;
  const wrap = fc.constantFrom<(inner: unknown) => unknown>((inner) => [inner], (inner) => ({ k: inner }), (inner) => new Map([['k', inner]]), (inner) => [1, inner, 'x']);
  fc.assert(fc.property(fc.array(wrap, { minLength: 300, maxLength: 450, size: 'max' }), value, (wrappers, leaf) => {
    const original = wrappers.reduce((inner, wrapper) => wrapper(inner), leaf);
    let body: Buffer;
    try {
      body = Buffer.from(codec.encode(original));
    } catch (error) {
      // Maps take two levels: a value past the limit must be refused at the sender, never sent.
      assert.ok(error instanceof TypeError && /nests deeper than 512/.test(error.message), String(error));
      refused++;
      return;
    }
    assert.deepEqual(codec.decode(body), original);
  }), { numRuns: 200 });
  assert.ok(refused > 0 && refused < 200, `${refused} of 200 went past the limit`);
});

test('error cause chains weft writes are read back, message by message (property)', () => {
  const codec = new Codec();
  fc.assert(fc.property(fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 12 }), (messages) => {
    const error = messages.reduce<Error | undefined>((cause, message) => new Error(message, cause && { cause }), undefined)!;
    let read = codec.decode(Buffer.from(codec.encode(error))) as Error | undefined;
    // serializeError writes nine levels at most: the newest nine messages.
    for (const message of messages.slice().reverse().slice(0, 9)) {
      assert.equal(read?.message, message);
      read = read!.cause as Error | undefined;
    }
  }), { numRuns: 300 });
});

test('the fast reader reads what msgpackr reads, or declines: any bytes (property)', () => {
  const written = value.map((v) => Buffer.from(new Codec().encode(v)));
  const mutated = fc.tuple(written, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([body, at, byte]) => {
    const copy = Buffer.from(body);
    if (copy.length > 0) copy[at % copy.length] = byte;
    return copy;
  });
  // Strings of any bytes, well-formed UTF-8 or not, as fixstr, str 8 and str 16.
  const strings = fc.uint8Array({ maxLength: 80 }).map((text) => Buffer.concat([
    text.length < 32 ? Buffer.from([0xa0 | text.length]) : Buffer.from([0xd9, text.length]), text]));
  const bytes = fc.oneof(written, mutated, strings, fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)));
  let read = 0;
  fc.assert(fc.property(bytes, (body) => {
    if (body.length === 0) return;
    const fast = fastUnpack(body);
    if (fast === DECLINED) return;
    read++;
    assert.equal(checkBody(body, 0, body.length), undefined, 'what the fast reader takes keeps every limit');
    assert.deepEqual(comparable(fast), comparable(reference.unpack(body)));
  }), { numRuns: 5000 });
  assert.ok(read > 1000, `the fast reader read ${read} bodies of 5,000`);
});

test('any bytes: the codec returns a value or throws ProtocolError, nothing else (property)', () => {
  const codec = new Codec();
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
    try {
      codec.decode(Buffer.from(bytes));
    } catch (error) {
      assert.ok(error instanceof ProtocolError, `${String(error)} for ${Buffer.from(bytes).toString('hex')}`);
    }
  }), { numRuns: 5000 });
});

test('the fast reader leaves to msgpackr what only msgpackr reads its own way', () => {
  const codec = new Codec();
  for (const text of ['\ufeff' + 'x'.repeat(70), 'é'.repeat(20), 'ascii then é'.repeat(3), 'é'.repeat(40)]) {
    const body = Buffer.from(codec.encode({ text }));
    const expected = reference.unpack(body);
    const fast = fastUnpack(body);
    if (fast !== DECLINED) assert.deepEqual(fast, expected, JSON.stringify(text));
    assert.deepEqual(codec.decode(body), expected);
  }
  // msgpackr's TextDecoder drops a leading byte order mark from strings over 64 bytes.
  assert.equal(fastUnpack(Buffer.from(codec.encode('\ufeff' + 'x'.repeat(70)))), DECLINED);
});
