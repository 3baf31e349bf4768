// Issue 11: decoding is linear in the input and bounded in depth (src/remote/body-check.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError, RemoteError, TimeoutError } from '../../src/index.js';
import { Codec } from '../../src/remote/codec.js';
import { MAX_ERROR_NESTING, MAX_NESTING } from '../../src/remote/body-check.js';
import { errorsInProperties, nestedArrays, nestedErrors, nestedMapExtensions, nestedMaps, nestedSets } from './hostile-bodies.js';

/**
 * A guard against a quadratic or full walk of 100,000 levels (seconds to minutes), not a speed
 * measure: a refusal at the nesting limit takes about a millisecond, and a loaded machine can
 * stretch that a hundredfold without the test meaning anything else.
 */
const NOT_QUADRATIC_MS = 1000;

const codec = new Codec();

/** Decodes `body`; returns the error it throws and how long it took. */
function refusal(body: Buffer): { error: unknown; ms: number } {
  const started = performance.now();
  try {
    codec.decode(body);
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  assert.fail(`a body of ${body.length} bytes was read; it should have been refused`);
}

test('a body of 4,000 nested Errors (124 KB) is refused with ProtocolError in milliseconds (it took 139 s)', () => {
  const body = nestedErrors(4000);
  assert.ok(body.length > 120_000, `the body is ${body.length} bytes`);
  const { error, ms } = refusal(body);
  assert.ok(error instanceof ProtocolError, `got ${String(error)}`);
  assert.match(error.message, new RegExp(`nests errors deeper than ${MAX_ERROR_NESTING} levels`));
  assert.ok(ms < NOT_QUADRATIC_MS, `refused in ${ms.toFixed(1)} ms`);
});

test('errors nested up to the limit are read whole, each level once: no stack text nested into the next', () => {
  const error = codec.decode(nestedErrors(MAX_ERROR_NESTING)) as RemoteError;
  const chain: RemoteError[] = [];
  for (let level: unknown = error; level instanceof RemoteError; level = level.cause) chain.push(level);
  assert.equal(chain.length, MAX_ERROR_NESTING);
  chain.forEach((level, i) => {
    assert.equal(level.message, `level ${i}`);
    assert.equal(level.remoteStack, `Error: level ${i}\n    at hostile`);
    // The quadratic revival rebuilt each level's cause with the stack of the level below inside.
    assert.equal(level.stack!.split('[remote]').length - 1, 1, `level ${i} carries its own remote stack only`);
  });
  assert.equal(chain.at(-1)!.cause, 'the end');
  assert.throws(() => codec.decode(nestedErrors(MAX_ERROR_NESTING + 1)), ProtocolError);
});

test('errors nested through their properties count against the same limit', () => {
  assert.ok(codec.decode(errorsInProperties(MAX_ERROR_NESTING)) instanceof RemoteError);
  const { error, ms } = refusal(errorsInProperties(10_000));
  assert.ok(error instanceof ProtocolError && /nests errors deeper/.test(error.message), String(error));
  assert.ok(ms < NOT_QUADRATIC_MS, `refused in ${ms.toFixed(1)} ms`);
});

test('RemoteError revives a plain cause chain in one pass, cut at MAX_ERROR_NESTING (the sync channels use it)', () => {
  let data: { name: string; message: string; cause?: unknown } = { name: 'Error', message: 'root' };
  for (let i = 0; i < 100_000; i++) data = { name: 'Error', message: `level ${i}`, cause: data };
  const started = performance.now();
  const error = RemoteError.fromSerialized(data);
  const ms = performance.now() - started;
  let causes = 0;
  for (let level = error.cause; level instanceof RemoteError; level = level.cause) causes++;
  assert.equal(causes, MAX_ERROR_NESTING);
  assert.ok(ms < NOT_QUADRATIC_MS, `revived in ${ms.toFixed(1)} ms`);
});

test('100,000 nested arrays, maps, Maps and Sets are refused with ProtocolError in milliseconds: no stack overflow', () => {
  for (const [shape, build] of [['arrays', nestedArrays], ['maps', nestedMaps], ['Maps', nestedMapExtensions], ['Sets', nestedSets]] as const) {
    const { error, ms } = refusal(build(100_000));
    assert.ok(error instanceof ProtocolError, `${shape}: got ${String(error)}`);
    assert.match(error.message, new RegExp(`nests deeper than ${MAX_NESTING} levels`), shape);
    assert.ok(ms < NOT_QUADRATIC_MS, `${shape} refused in ${ms.toFixed(1)} ms`);
  }
});

test('data nested exactly MAX_NESTING deep round-trips; one level more is refused by the sender and by the receiver', () => {
  const deep = (levels: number): unknown => {
    let value: unknown = 'leaf';
    for (let i = 0; i < levels; i++) value = i % 3 === 0 ? [value] : i % 3 === 1 ? { k: value } : [1, value];
    return value;
  };
  assert.deepEqual(codec.decode(codec.encode(deep(MAX_NESTING))), deep(MAX_NESTING));
  assert.throws(() => codec.encode(deep(MAX_NESTING + 1)), (error: unknown) => error instanceof TypeError
    && new RegExp(`cannot be sent: it nests deeper than ${MAX_NESTING} levels`).test(error.message));
  assert.throws(() => codec.decode(nestedArrays(MAX_NESTING + 1)), ProtocolError);
  let arrays: unknown = 1;
  for (let i = 0; i < MAX_NESTING; i++) arrays = [arrays];
  assert.deepEqual(codec.decode(nestedArrays(MAX_NESTING)), arrays);
  // Maps and errors made by weft: a Map takes two levels (the extension and its array).
  let map: unknown = 1;
  for (let i = 0; i < MAX_NESTING / 2 - 1; i++) map = new Map([[i, map]]);
  assert.deepEqual(codec.decode(codec.encode(map)), map);
  let error: Error = new TimeoutError('root');
  for (let i = 0; i < 20; i++) error = new Error(`level ${i}`, { cause: error });
  assert.ok(codec.decode(codec.encode(error)) instanceof RemoteError, 'a long cause chain is cut at 8 by the writer and read');
});

test('forms weft never writes are refused before msgpackr acts on them', () => {
  const cases: [string, number[]][] = [
    ['a record definition', [0xd4, 0x72, 0x40, 0x91, 0xa1, 0x61, 0x01]],
    ['a two-byte record definition', [0xd5, 0x72, 0x40, 0x00, 0x91, 0xa1, 0x61, 0x01]],
    ['a structured-clone id', [0xd6, 0x69, 0, 0, 0, 1, 0x91, 0x01]],
    ['a structured-clone pointer', [0xd6, 0x70, 0, 0, 0, 1]],
    ['bundled strings', [0xd6, 0x62, 0, 0, 0, 6, 0xa1, 0x61, 0xa0, 0xa0]],
    ['an unknown extension', [0xd4, 0x10, 0x00]],
    ["weft's Error extension with a payload", [0xc7, 0x01, 0x65, 0x00, 0x01]],
  ];
  for (const [what, bytes] of cases) {
    assert.throws(() => codec.decode(Buffer.from(bytes)), (error: unknown) => error instanceof ProtocolError
      && /extension|0x/.test(error.message), what);
  }
  assert.throws(() => codec.decode(Buffer.from([0xc1])), /not valid MessagePack: it holds the byte 0xc1/);
  assert.throws(() => codec.decode(Buffer.from([0x01, 0x02])), /not valid MessagePack: 1 byte follows its value/);
  assert.throws(() => codec.decode(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])), /not valid MessagePack: it ends before/);
});
