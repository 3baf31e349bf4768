/**
 * A hand-written MessagePack reader for the shapes nearly every frame has, the mirror of
 * fast-pack.ts: nil, booleans, numbers, 64-bit bigints, strings, binary, arrays, maps with string
 * keys (read as plain objects), and undefined, Maps, Sets, Dates and typed arrays (msgpackr's and
 * codec.ts's extensions for them). It returns what msgpackr would (same values, same key order),
 * so it changes nothing on the wire or in what a handler sees; it only skips msgpackr's setup and
 * body-check.ts's separate pass, which together cost a small frame more than reading it.
 *
 * Anything else (other extensions, errors among them; a string of 64 bytes or fewer that is not
 * well-formed UTF-8, or a longer one that starts with a byte order mark; a map key that is not a
 * fixstr or is one body-check.ts watches; nesting deeper than MAX_DEPTH; a body that ends early
 * or goes on after its value) makes it give up, and the codec checks the whole body and reads it
 * with msgpackr instead. It recurses at most MAX_DEPTH levels, far inside body-check.ts's limits,
 * so a body it reads needs no other check.
 */

/** Nesting deeper than this goes to the full path (fast-pack.ts writes no deeper either). */
const MAX_DEPTH = 32;

/** Returned when the body has a shape this reader leaves to msgpackr. */
export const DECLINED: unique symbol = Symbol('declined');

type Read = unknown;

/** Node's Buffer has these; toString('latin1' | 'utf8') calls them after checking its arguments. */
type Bytes = Buffer & { latin1Slice(start: number, end: number): string; utf8Slice(start: number, end: number): string };

const EMPTY = Buffer.alloc(0) as Bytes;
let src: Bytes = EMPTY;
let pos = 0;
let end = 0;

const fromCharCode = String.fromCharCode;

/** The value in `body`, or DECLINED. */
export function fastUnpack(body: Buffer): Read {
  src = body as Bytes;
  pos = 0;
  end = body.length;
  const value = read(0);
  src = EMPTY; // not to keep the last body (often a view of a socket chunk) alive
  return pos === end ? value : DECLINED;
}

function read(depth: number): Read {
  if (pos >= end) return DECLINED;
  const token = src[pos++]!;
  if (token < 0x80) return token;
  if (token >= 0xe0) return token - 0x100;
  if (token >= 0xa0 && token < 0xc0) return readString(token & 0x1f);
  if (token < 0x90) return readMap(token & 0x0f, depth);
  if (token < 0xa0) return readArray(token & 0x0f, depth);
  switch (token) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xcc:
      if (pos + 1 > end) return DECLINED;
      return src[pos++]!;
    case 0xcd:
      if (pos + 2 > end) return DECLINED;
      pos += 2;
      return (src[pos - 2]! << 8) | src[pos - 1]!;
    case 0xce:
      if (pos + 4 > end) return DECLINED;
      pos += 4;
      return src.readUInt32BE(pos - 4);
    case 0xd0:
      if (pos + 1 > end) return DECLINED;
      return (src[pos++]! << 24) >> 24;
    case 0xd1:
      if (pos + 2 > end) return DECLINED;
      pos += 2;
      return (((src[pos - 2]! << 8) | src[pos - 1]!) << 16) >> 16;
    case 0xd2:
      if (pos + 4 > end) return DECLINED;
      pos += 4;
      return src.readInt32BE(pos - 4);
    case 0xca:
      if (pos + 4 > end) return DECLINED;
      pos += 4;
      return src.readFloatBE(pos - 4);
    case 0xcb:
      if (pos + 8 > end) return DECLINED;
      pos += 8;
      return src.readDoubleBE(pos - 8);
    case 0xd9:
      if (pos + 1 > end) return DECLINED;
      return readString(src[pos++]!);
    case 0xda:
      if (pos + 2 > end) return DECLINED;
      pos += 2;
      return readString((src[pos - 2]! << 8) | src[pos - 1]!);
    case 0xdc:
      if (pos + 2 > end) return DECLINED;
      pos += 2;
      return readArray((src[pos - 2]! << 8) | src[pos - 1]!, depth);
    case 0xde:
      if (pos + 2 > end) return DECLINED;
      pos += 2;
      return readMap((src[pos - 2]! << 8) | src[pos - 1]!, depth);
    case 0xcf:
      if (pos + 8 > end) return DECLINED;
      pos += 8;
      return src.readBigUInt64BE(pos - 8);
    case 0xd3:
      if (pos + 8 > end) return DECLINED;
      pos += 8;
      return src.readBigInt64BE(pos - 8);
    case 0xd4:
      return readTag(depth);
    case 0xd6:
      if (pos + 5 > end || src[pos] !== EXT_DATE) return DECLINED;
      pos += 5;
      return date32(pos - 4);
    case 0xd7:
      if (pos + 9 > end || src[pos] !== EXT_DATE) return DECLINED;
      pos += 9;
      return date64(pos - 8);
    case 0xc4: case 0xc5: case 0xc6: {
      // bin 8/16/32: a copy (the codec's copyBuffers), a Buffer as msgpackr's is
      const size = 1 << (token - 0xc4);
      if (pos + size > end) return DECLINED;
      const length = readLength(pos, size);
      pos += size;
      if (length > end - pos) return DECLINED;
      pos += length;
      return Uint8Array.prototype.slice.call(src, pos - length, pos);
    }
    case 0xc7: case 0xc8: case 0xc9: {
      // ext 8/16/32: a typed array, an ArrayBuffer or a DataView (ext 0x74), or a 96-bit Date
      const size = 1 << (token - 0xc7);
      if (pos + size + 1 > end) return DECLINED;
      const length = readLength(pos, size);
      const type = src[pos + size]!;
      pos += size + 1;
      if (length > end - pos) return DECLINED;
      pos += length;
      if (type === EXT_DATE && length === 12) return date96(pos - 12);
      return type === EXT_TYPED_ARRAY && length > 0 ? typedArray(pos - length, pos) : DECLINED;
    }
    default:
      return DECLINED;
  }
}

function readLength(at: number, size: number): number {
  if (size === 1) return src[at]!;
  if (size === 2) return (src[at]! << 8) | src[at + 1]!;
  return src.readUInt32BE(at);
}

/** ext 0x74's first byte: msgpackr's list of typed arrays (16 is an ArrayBuffer, 17 a DataView). */
const TYPED_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array];

/** The bytes after the type byte, copied into memory of their own, as msgpackr reads them. */
function typedArray(start: number, stop: number): Read {
  const code = src[start]!;
  const bytes = new Uint8Array(stop - start - 1);
  bytes.set(src.subarray(start + 1, stop));
  if (code === 16) return bytes.buffer;
  if (code === 17) return new DataView(bytes.buffer);
  const Class = TYPED_ARRAYS[code];
  // msgpackr fails on a length that is not a whole number of elements: left to it.
  if (Class === undefined || bytes.length % Class.BYTES_PER_ELEMENT !== 0) return DECLINED;
  return new Class(bytes.buffer);
}

const EXT_UNDEFINED = 0x00;
const EXT_TYPED_ARRAY = 0x74;
const EXT_MAP = 0x6d;
const EXT_SET = 0x73;
const EXT_DATE = 0xff;

/** fixext 1: undefined, a Map, a Set or an invalid Date; the other extensions go to msgpackr. */
function readTag(depth: number): Read {
  if (pos + 2 > end) return DECLINED;
  const type = src[pos]!;
  pos += 2;
  switch (type) {
    case EXT_UNDEFINED:
      return undefined;
    case EXT_DATE:
      return new Date('invalid');
    case EXT_MAP: case EXT_SET: {
      // The value after the tag: an array, [key, value, ...] for a Map (codec.ts), the items for a Set.
      if (depth === MAX_DEPTH) return DECLINED;
      const items = read(depth + 1);
      if (!Array.isArray(items)) return DECLINED;
      if (type === EXT_SET) return new Set(items);
      if (items.length % 2 !== 0) return DECLINED;
      const map = new Map<unknown, unknown>();
      for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
      return map;
    }
    default:
      return DECLINED;
  }
}

// Timestamps (ext -1) exactly as msgpackr reads them.
function date32(at: number): Date {
  return new Date((src[at]! * 0x1000000 + (src[at + 1]! << 16) + (src[at + 2]! << 8) + src[at + 3]!) * 1000);
}

function date64(at: number): Date {
  const d = (i: number) => src[at + i]!;
  return new Date(((d(0) << 22) + (d(1) << 14) + (d(2) << 6) + (d(3) >> 2)) / 1000000
    + ((d(3) & 0x3) * 0x100000000 + d(4) * 0x1000000 + (d(5) << 16) + (d(6) << 8) + d(7)) * 1000);
}

function date96(at: number): Date {
  const d = (i: number) => src[at + i]!;
  return new Date(((d(0) << 24) + (d(1) << 16) + (d(2) << 8) + d(3)) / 1000000
    + (((d(4) & 0x80) ? -0x1000000000000 : 0) + d(6) * 0x10000000000 + d(7) * 0x100000000 + d(8) * 0x1000000 + (d(9) << 16) + (d(10) << 8) + d(11)) * 1000);
}

/** A string of `length` bytes read as msgpackr would; DECLINED where that is not certain. */
function readString(length: number): Read {
  const start = pos;
  const stop = start + length;
  if (stop > end) return DECLINED;
  if (length > 64) {
    // msgpackr reads these with a TextDecoder, which drops a leading byte order mark: left to it.
    if (src[start] === 0xef && src[start + 1] === 0xbb && src[start + 2] === 0xbf) return DECLINED;
    pos = stop;
    return src.utf8Slice(start, stop);
  }
  let bits = 0;
  for (let i = start; i < stop; i++) bits |= src[i]!;
  if (bits < 0x80) {
    pos = stop;
    // Short strings (most keys and method names) as one flat string, without a call into Buffer.
    switch (length) {
      case 0: return '';
      case 1: return fromCharCode(src[start]!);
      case 2: return fromCharCode(src[start]!, src[start + 1]!);
      case 3: return fromCharCode(src[start]!, src[start + 1]!, src[start + 2]!);
      case 4: return fromCharCode(src[start]!, src[start + 1]!, src[start + 2]!, src[start + 3]!);
      case 5: return fromCharCode(src[start]!, src[start + 1]!, src[start + 2]!, src[start + 3]!, src[start + 4]!);
      case 6: return fromCharCode(src[start]!, src[start + 1]!, src[start + 2]!, src[start + 3]!, src[start + 4]!, src[start + 5]!);
      default: return src.latin1Slice(start, stop);
    }
  }
  // msgpackr reads shorter strings with its own UTF-8 decoder, which agrees with Node's on
  // well-formed UTF-8; what it makes of malformed bytes is left to it.
  if (!isWellFormedUtf8(start, stop)) return DECLINED;
  pos = stop;
  return src.utf8Slice(start, stop);
}

/** Whether src[start, stop) is well-formed UTF-8: no overlong forms, surrogates or cut sequences. */
function isWellFormedUtf8(start: number, stop: number): boolean {
  let i = start;
  while (i < stop) {
    const b = src[i]!;
    if (b < 0x80) {
      i++;
    } else if (b < 0xc2) {
      return false;
    } else if (b < 0xe0) {
      if (i + 1 >= stop || (src[i + 1]! & 0xc0) !== 0x80) return false;
      i += 2;
    } else if (b < 0xf0) {
      const b1 = src[i + 1]!;
      if (i + 2 >= stop || (b1 & 0xc0) !== 0x80 || (src[i + 2]! & 0xc0) !== 0x80) return false;
      if ((b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 >= 0xa0)) return false;
      i += 3;
    } else if (b < 0xf5) {
      const b1 = src[i + 1]!;
      if (i + 3 >= stop || (b1 & 0xc0) !== 0x80 || (src[i + 2]! & 0xc0) !== 0x80 || (src[i + 3]! & 0xc0) !== 0x80) return false;
      if ((b === 0xf0 && b1 < 0x90) || (b === 0xf4 && b1 >= 0x90)) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

interface CachedKey {
  bytes: Uint8Array;
  key: string;
}

/**
 * Map keys recur from frame to frame: each is kept by its length and first two bytes, and a key
 * whose bytes match is the same string again. That skips making a string, and V8 finds a string
 * it has seen as a property name at once (as msgpackr's own key cache does).
 */
const keyCache = new Array<CachedKey | undefined>(4096);

function readKey(length: number): Read {
  const start = pos;
  const stop = start + length;
  if (stop > end) return DECLINED;
  const slot = ((length << 5) ^ (length > 1 ? (src[start]! << 8) | src[start + 1]! : length > 0 ? src[start]! : 0)) & 0xfff;
  const entry = keyCache[slot];
  if (entry !== undefined && entry.bytes.length === length) {
    const bytes = entry.bytes;
    let i = 0;
    while (i < length && src[start + i] === bytes[i]) i++;
    if (i === length) {
      pos = stop;
      return entry.key;
    }
  }
  const key = readString(length);
  if (key !== DECLINED) keyCache[slot] = { bytes: Uint8Array.prototype.slice.call(src, start, stop), key: key as string };
  return key;
}

function readArray(length: number, depth: number): Read {
  if (depth === MAX_DEPTH || length > end - pos) return DECLINED;
  const array = new Array<unknown>(length);
  for (let i = 0; i < length; i++) {
    // Numbers, the usual items of long arrays, without a call (past `end`, token is undefined
    // and every test fails: read() reports the end).
    const token = src[pos]!;
    if (token < 0x80) {
      pos++;
      array[i] = token;
      continue;
    }
    if (token === 0xcd && pos + 3 <= end) {
      array[i] = (src[pos + 1]! << 8) | src[pos + 2]!;
      pos += 3;
      continue;
    }
    if (token === 0xcb && pos + 9 <= end) {
      array[i] = src.readDoubleBE(pos + 1);
      pos += 9;
      continue;
    }
    const item = read(depth + 1);
    if (item === DECLINED) return DECLINED;
    array[i] = item;
  }
  return array;
}

function readMap(length: number, depth: number): Read {
  if (depth === MAX_DEPTH || length * 2 > end - pos) return DECLINED;
  const object: Record<string, unknown> = {};
  for (let i = 0; i < length; i++) {
    if (pos >= end) return DECLINED;
    const token = src[pos]!;
    // Keys: fixstr only (str 8 and longer keys, and non-string keys, go to msgpackr).
    if (token < 0xa0 || token >= 0xc0) return DECLINED;
    pos++;
    const key = readKey(token & 0x1f);
    // `__proto__`, `prototype` and `constructor` are the keys body-check.ts rules on.
    if (key === DECLINED || key === '__proto__' || key === 'prototype' || key === 'constructor') return DECLINED;
    const value = read(depth + 1);
    if (value === DECLINED) return DECLINED;
    object[key as string] = value;
  }
  return object;
}
