import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ProtocolError } from '../../src/index.js';
import { encodeFrame, FrameDecoder, HEADER_SIZE, PROTOCOL_VERSION } from '../../src/remote/frame.js';

interface Decoded { type: number; id: number; body: Buffer }

function decodeAll(decoder: FrameDecoder, chunks: Buffer[]): Decoded[] {
  const out: Decoded[] = [];
  for (const chunk of chunks) decoder.push(chunk, (type, id, body) => out.push({ type, id, body: Buffer.from(body) }));
  return out;
}

/** Cuts `bytes` at the given offsets (sorted, deduplicated, within range). */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  chunks.push(bytes.subarray(from));
  return chunks.filter((c) => c.length > 0);
}

test('a frame carries length, version, type and id before its body', () => {
  const frame = encodeFrame(0x21, 0xdeadbeef, Buffer.from('hi'));
  assert.equal(frame.length, HEADER_SIZE + 2);
  assert.equal(frame.readUInt32BE(0), 8);
  assert.equal(frame[4], PROTOCOL_VERSION);
  assert.equal(frame[5], 0x21);
  assert.equal(frame.readUInt32BE(6), 0xdeadbeef);
  assert.deepEqual(decodeAll(new FrameDecoder(100), [frame]), [{ type: 0x21, id: 0xdeadbeef, body: Buffer.from('hi') }]);
});

test('frames split at every possible byte come out whole and in order', () => {
  const frames = [encodeFrame(0x10, 1, Buffer.from('first')), encodeFrame(0x11, 2), encodeFrame(0x12, 3, Buffer.alloc(300, 7))];
  const stream = Buffer.concat(frames);
  for (let at = 0; at <= stream.length; at++) {
    const got = decodeAll(new FrameDecoder(1000), cut(stream, [at]));
    assert.deepEqual(got.map((f) => [f.type, f.id, f.body.length]), [[0x10, 1, 5], [0x11, 2, 0], [0x12, 3, 300]], `cut at ${at}`);
  }
});

test('a frame claiming 4 GiB is refused from its length prefix alone, before any allocation', () => {
  const decoder = new FrameDecoder(1024 * 1024);
  const claim = Buffer.from([0xff, 0xff, 0xff, 0xff]);
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(() => decoder.push(claim, () => assert.fail('no frame expected')), (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /frame body of 4294967289 bytes exceeds the limit of 1048576 bytes/);
    return true;
  });
  assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024, 'nothing large was allocated');
});

test('a wrong version and a length below the header are protocol errors', () => {
  const frame = encodeFrame(0x10, 1, Buffer.from('x'));
  frame[4] = 9;
  assert.throws(() => new FrameDecoder(100).push(frame, () => {}), /unsupported protocol version 9: this peer speaks version 1/);
  assert.throws(() => new FrameDecoder(100).push(Buffer.from([0, 0, 0, 2, 1, 0x10]), () => {}), /frame length 2 is below the minimum of 6 bytes/);
});

test('a truncated frame stays buffered and emits nothing', () => {
  const decoder = new FrameDecoder(100);
  const frame = encodeFrame(0x10, 5, Buffer.from('truncated body'));
  assert.deepEqual(decodeAll(decoder, [frame.subarray(0, frame.length - 3)]), []);
  assert.equal(decoder.idle, false);
  assert.equal(decodeAll(decoder, [frame.subarray(frame.length - 3)]).length, 1);
  assert.equal(decoder.idle, true);
});

test('property: any frames, cut anywhere, decode to exactly what was encoded', () => {
  const frameArb = fc.record({
    type: fc.integer({ min: 0, max: 255 }),
    id: fc.integer({ min: 0, max: 0xffff_ffff }),
    body: fc.uint8Array({ maxLength: 600 }),
  });
  fc.assert(fc.property(fc.array(frameArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
    const stream = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.id, f.body)));
    const got = decodeAll(new FrameDecoder(600), cut(stream, cuts));
    assert.deepEqual(got, frames.map((f) => ({ type: f.type, id: f.id, body: Buffer.from(f.body) })));
  }), { numRuns: 300 });
});

test('property: arbitrary bytes either decode to frames within the limit or fail with ProtocolError', () => {
  const limit = 256;
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
    const decoder = new FrameDecoder(limit);
    try {
      for (const chunk of cut(Buffer.from(bytes), cuts)) {
        decoder.push(chunk, (_type, _id, body) => assert.ok(body.length <= limit));
      }
    } catch (error) {
      assert.ok(error instanceof ProtocolError, `unexpected ${String(error)}`);
    }
  }), { numRuns: 500 });
});

test('hold() stops after the current frame and keeps the rest of the chunk; release() goes on in order', () => {
  const decoder = new FrameDecoder(100);
  const stream = Buffer.concat([1, 2, 3, 4].map((id) => encodeFrame(0x10, id)));
  const seen: number[] = [];
  const onFrame = (_type: number, id: number) => {
    seen.push(id);
    if (id === 2) decoder.hold();
  };
  decoder.push(stream.subarray(0, 25), onFrame);
  assert.deepEqual(seen, [1, 2]);
  decoder.push(stream.subarray(25), onFrame); // arrives while held: kept too
  assert.deepEqual(seen, [1, 2]);
  decoder.release(onFrame);
  assert.deepEqual(seen, [1, 2, 3, 4]);
});

/** Feeds `chunks` as a ChunkReader does: each copied into one reused buffer, lent with a byte count, then scribbled over. */
function pushLent(decoder: FrameDecoder, chunks: Buffer[], onFrame: (type: number, id: number, body: Buffer) => void): void {
  const lent = Buffer.alloc(4096);
  for (const chunk of chunks) {
    chunk.copy(lent);
    decoder.push(lent, onFrame, chunk.length);
    lent.fill(0xee); // the next read overwrites the buffer: nothing kept may still point into it
  }
}

test('property: frames read through one reused buffer decode to exactly what was encoded, split bodies included', () => {
  const frameArb = fc.record({ type: fc.integer({ min: 0, max: 255 }), id: fc.nat(), body: fc.uint8Array({ maxLength: 600 }) });
  fc.assert(fc.property(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (frames, cuts) => {
    const stream = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.id, f.body)));
    const got: Decoded[] = [];
    pushLent(new FrameDecoder(600), cut(stream, cuts), (type, id, body) => got.push({ type, id, body: Buffer.from(body) }));
    assert.deepEqual(got, frames.map((f) => ({ type: f.type, id: f.id, body: Buffer.from(f.body) })));
  }), { numRuns: 200 });
});

test('push() reads only the bytes it is given, and what hold() keeps is a copy of a lent buffer', () => {
  const decoder = new FrameDecoder(100);
  const stream = Buffer.concat([1, 2, 3].map((id) => encodeFrame(0x10, id, Buffer.from(`body ${id}`))));
  const seen: string[] = [];
  const onFrame = (_type: number, id: number, body: Buffer) => {
    seen.push(`${id}:${body.toString()}`);
    if (id === 1) decoder.hold();
  };
  const lent = Buffer.alloc(200, 0xff); // bytes past `end` would read as a frame claiming 4 GiB
  stream.copy(lent);
  decoder.push(lent, onFrame, stream.length);
  lent.fill(0xee);
  assert.deepEqual(seen, ['1:body 1']);
  decoder.release(onFrame);
  assert.deepEqual(seen, ['1:body 1', '2:body 2', '3:body 3']);
  assert.equal(decoder.idle, true);
});
