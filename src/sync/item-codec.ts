import { deserialize, serialize } from 'node:v8';
import { Packr } from 'msgpackr/index-no-eval';
import { NO_ROOM, packPlainTree } from './plain-pack.js';
import { isPlainTree } from './plain-tree.js';

/**
 * How Queue and Pipe turn an item into bytes and back; decoding gives the value postMessage
 * would have given. The ring stores each item as a one-byte tag and a payload (see ring.ts).
 * From cheapest to dearest:
 * - numbers (float64), well-formed strings (UTF-8), booleans, null, undefined: tag + raw bytes;
 * - typed arrays and Buffers: tag (which class) + the view's bytes, no serializer at all;
 * - plain trees (objects and arrays of the above, see plain-tree.ts): msgpack, written by
 *   plain-pack.ts in one walk that checks as it writes, read by msgpackr; v8.serialize builds a
 *   serializer per call (4-10 µs);
 * - anything else (Map, Date, cycles, shared references, -0 inside an object...): v8.serialize,
 *   the structured clone of postMessage, which also refuses what cannot be cloned.
 *
 * Encoding writes into one scratch buffer per thread (valid until the next encode), so a put
 * allocates nothing for a number; the ring copies the payload into shared memory at once.
 */
export const enum Tag {
  V8 = 0,
  NUMBER = 1,
  STRING = 2,
  TRUE = 3,
  FALSE = 4,
  NULL = 5,
  UNDEFINED = 6,
  MSGPACK = 7,
  BUFFER = 8,
  /** TYPED + index in TYPED_ARRAYS. */
  TYPED = 16,
}

type TypedArrayClass = new (length: number) => ArrayBufferView;
const TYPED_ARRAYS: TypedArrayClass[] = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
];
const TYPED_TAG = new Map<object, number>(TYPED_ARRAYS.map((Class, i) => [Class.prototype, Tag.TYPED + i]));

/** Plain maps as objects, no records (they would need a dictionary shared by all threads). */
const packr = new Packr({ useRecords: false, moreTypes: false });

/** Strings up to this many UTF-16 units are encoded into the scratch buffer; longer ones get their own. */
const SCRATCH_STRING_UNITS = 16 * 1024;

/** The result of the last encode in this thread. `payload[0, length)` is valid until the next one. */
export const encoded = {
  tag: Tag.UNDEFINED as number,
  payload: Buffer.allocUnsafeSlow(3 * SCRATCH_STRING_UNITS) as Uint8Array,
  length: 0,
};
const scratch = encoded.payload as Buffer;
const scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);

/** Encodes `item` into `encoded`; TypeError when it cannot be cloned (`what` names the caller). */
export function encodeItem(item: unknown, what: string): void {
  encoded.payload = scratch;
  encoded.length = 0;
  switch (typeof item) {
    case 'number':
      encoded.tag = Tag.NUMBER;
      scratchView.setFloat64(0, item);
      encoded.length = 8;
      return;
    case 'string':
      // UTF-8 cannot carry a lone surrogate, which structured clone keeps: those go through v8.
      if (!(item as string & { isWellFormed(): boolean }).isWellFormed()) break;
      encoded.tag = Tag.STRING;
      if (item.length <= SCRATCH_STRING_UNITS) {
        encoded.length = scratch.write(item, 0);
      } else {
        encoded.payload = Buffer.from(item, 'utf8');
        encoded.length = encoded.payload.length;
      }
      return;
    case 'boolean':
      encoded.tag = item ? Tag.TRUE : Tag.FALSE;
      return;
    case 'undefined':
      encoded.tag = Tag.UNDEFINED;
      return;
    case 'object': {
      if (item === null) {
        encoded.tag = Tag.NULL;
        return;
      }
      const proto = Object.getPrototypeOf(item) as object | null;
      const typed = proto === Buffer.prototype ? Tag.BUFFER : TYPED_TAG.get(proto!);
      if (typed !== undefined) {
        const view = item as ArrayBufferView;
        encoded.tag = typed;
        encoded.length = view.byteLength;
        // A small typed array lives inside V8's heap until its .buffer is read, which moves it
        // out (an allocation, ~1 µs): copy it element-wise through a view of the same class.
        if (view.byteLength <= scratch.length) viewClass(typed, scratch.buffer, view.byteLength).set(view as unknown as ArrayLike<number>);
        else encoded.payload = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
        return;
      }
      const packed = packPlainTree(item, scratch, scratchView);
      if (packed >= 0) {
        encoded.tag = Tag.MSGPACK;
        encoded.length = packed;
        return;
      }
      // Too big for the scratch buffer: check first, then let msgpackr size its own buffer.
      if (packed === NO_ROOM && isPlainTree(item)) {
        encoded.tag = Tag.MSGPACK;
        encoded.payload = packr.pack(item);
        encoded.length = encoded.payload.length;
        return;
      }
    }
  }
  encoded.tag = Tag.V8;
  try {
    encoded.payload = serialize(item);
  } catch (error) {
    throw new TypeError(`${what}: expected a structured-clonable item, got one that is not (${(error as Error).message})`, { cause: error });
  }
  encoded.length = encoded.payload.length;
}

/**
 * Several encoded items back to back, for a putMany: record i is `bytes[starts[i], starts[i + 1])`,
 * its tag first then its payload (`starts` has one entry more than there are items).
 */
export interface EncodedBatch {
  bytes: Uint8Array;
  starts: number[];
}

/**
 * Encodes every item before any goes in, so that an item that cannot be cloned (TypeError) or
 * can never fit (`check` throws) refuses the whole batch, not the rest of it.
 */
export function encodeBatch(items: readonly unknown[], what: string, check: (length: number) => void): EncodedBatch {
  let bytes = Buffer.allocUnsafe(Math.max(64, items.length * 16));
  const starts = new Array<number>(items.length + 1);
  let end = 0;
  for (let i = 0; i < items.length; i++) {
    encodeItem(items[i], what);
    check(encoded.length);
    const need = end + 1 + encoded.length;
    if (need > bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, bytes.length * 2));
      grown.set(bytes.subarray(0, end));
      bytes = grown;
    }
    starts[i] = end;
    bytes[end] = encoded.tag;
    bytes.set(encoded.payload.subarray(0, encoded.length), end + 1);
    end = need;
  }
  starts[items.length] = end;
  return { bytes, starts };
}

/** A copy of the last encode (tag first), for a put that has to wait before it can write. */
export function takeEncoded(): Uint8Array {
  const out = new Uint8Array(1 + encoded.length);
  out[0] = encoded.tag;
  out.set(encoded.payload.subarray(0, encoded.length), 1);
  return out;
}

/** A typed array (or Buffer) tag. */
export function isViewTag(tag: number): boolean {
  return tag === Tag.BUFFER || tag >= Tag.TYPED;
}

/** A view of `byteLength` bytes at `offset` (a multiple of 8) of `buffer`, of the class `tag` names. */
function viewClass(tag: number, buffer: ArrayBufferLike, byteLength: number, offset = 0): { set(source: ArrayLike<number>): void } {
  if (tag === Tag.BUFFER) return new Uint8Array(buffer, offset, byteLength);
  const Class = TYPED_ARRAYS[tag - Tag.TYPED] as unknown as new (buffer: ArrayBufferLike, offset: number, length: number) => { set(source: ArrayLike<number>): void };
  return new Class(buffer, offset, byteLength / (Class as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT);
}

/** The empty typed array (or Buffer) of `byteLength` bytes that a view tag's payload is copied into. */
export function newView(tag: number, byteLength: number): ArrayBufferView {
  // Not from the shared pool: the receiver may transfer or keep the whole .buffer.
  if (tag === Tag.BUFFER) return Buffer.allocUnsafeSlow(byteLength);
  const Class = TYPED_ARRAYS[tag - Tag.TYPED] as TypedArrayClass & { BYTES_PER_ELEMENT: number };
  return new Class(byteLength / Class.BYTES_PER_ELEMENT);
}

/**
 * Decodes the payload at `bytes[offset, offset + length)`; `bytes` starts at offset 0 of its own
 * ArrayBuffer and `offset` is a multiple of 8 (typed arrays are read through aligned views).
 * `bytes` may be reused once this returns.
 */
export function decodeItem(tag: number, bytes: Buffer, length: number, offset = 0): unknown {
  if (tag === Tag.BUFFER || tag >= Tag.TYPED) {
    const out = newView(tag, length);
    (out as unknown as { set(source: unknown): void }).set(viewClass(tag, bytes.buffer, length, offset));
    return out;
  }
  switch (tag) {
    case Tag.NUMBER: return bytes.readDoubleBE(offset);
    case Tag.STRING: return bytes.toString('utf8', offset, offset + length);
    case Tag.TRUE: return true;
    case Tag.FALSE: return false;
    case Tag.NULL: return null;
    case Tag.UNDEFINED: return undefined;
    // The whole (reused) buffer and its bounds, not a subarray: msgpackr keeps the DataView it
    // makes on the buffer, where a fresh subarray would cost a Buffer and a DataView per item.
    case Tag.MSGPACK: return offset === 0 ? packr.unpack(bytes, length) : packr.unpack(bytes, { start: offset, end: offset + length });
    // v8.deserialize makes typed arrays that are views on its input: give it its own copy.
    default: return deserialize(Uint8Array.prototype.slice.call(bytes, offset, offset + length));
  }
}
