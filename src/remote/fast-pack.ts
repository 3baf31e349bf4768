/**
 * A hand-written MessagePack writer for the shapes nearly every RPC frame has: null, booleans,
 * numbers, strings, arrays and plain objects (constructor Object). It writes the same bytes as
 * the codec's msgpackr settings do (docs/protocol.md §4: ints in the smallest int format when
 * integral and within 32 bits, else float 64; plain objects as map 16), so the wire format is
 * unchanged; it only skips msgpackr's general dispatch and the Map-boxing walk (see map-box.ts),
 * which together are most of a small frame's encode time.
 *
 * Anything else (undefined, bigint, Map, Set, Date, binary, errors, references, class instances,
 * a value deeper than MAX_DEPTH, an object under a key `constructor`, `prototype` or `__proto__`,
 * more bytes than the scratch holds) makes it give up, and the codec encodes the whole value
 * with msgpackr instead: the fast path never changes what a value means on the wire, it only
 * declines.
 */

/** Nesting deeper than this goes to msgpackr (which also reports cycles and too-deep values). */
const MAX_DEPTH = 32;

/** Returned when the value has a shape this writer leaves to msgpackr. */
export const DECLINED = -1;

/**
 * Writes `value` into `out` from `start`; returns the end offset, or DECLINED. `out` is scratch:
 * a declined write may have left partial bytes in it.
 */
export function fastPack(value: unknown, out: Buffer, start: number): number {
  return write(value, out, start, 0);
}

function write(value: unknown, out: Buffer, pos: number, depth: number): number {
  switch (typeof value) {
    case 'string':
      return writeString(value, out, pos);
    case 'number':
      return writeNumber(value, out, pos);
    case 'boolean':
      if (pos >= out.length) return DECLINED;
      out[pos] = value ? 0xc3 : 0xc2;
      return pos + 1;
    case 'object':
      if (value === null) {
        if (pos >= out.length) return DECLINED;
        out[pos] = 0xc0;
        return pos + 1;
      }
      if (depth >= MAX_DEPTH) return DECLINED;
      if (Array.isArray(value)) return value.constructor === Array ? writeArray(value, out, pos, depth) : DECLINED;
      return (value as object).constructor === Object ? writeObject(value as Record<string, unknown>, out, pos, depth) : DECLINED;
    default:
      return DECLINED;
  }
}

function writeNumber(n: number, out: Buffer, pos: number): number {
  if (pos + 9 > out.length) return DECLINED;
  if (n >>> 0 === n) {
    if (n < 0x80) out[pos++] = n;
    else if (n < 0x100) {
      out[pos++] = 0xcc;
      out[pos++] = n;
    } else if (n < 0x10000) {
      out[pos++] = 0xcd;
      out[pos++] = n >> 8;
      out[pos++] = n & 0xff;
    } else {
      out[pos++] = 0xce;
      out.writeUInt32BE(n, pos);
      pos += 4;
    }
  } else if (n >> 0 === n) {
    if (n >= -0x20) out[pos++] = 0x100 + n;
    else if (n >= -0x80) {
      out[pos++] = 0xd0;
      out[pos++] = n + 0x100;
    } else if (n >= -0x8000) {
      out[pos++] = 0xd1;
      out.writeInt16BE(n, pos);
      pos += 2;
    } else {
      out[pos++] = 0xd2;
      out.writeInt32BE(n, pos);
      pos += 4;
    }
  } else {
    out[pos++] = 0xcb;
    out.writeDoubleBE(n, pos);
    pos += 8;
  }
  return pos;
}

function writeString(s: string, out: Buffer, pos: number): number {
  const length = s.length;
  // Room for the widest header and the widest UTF-8 (3 bytes per UTF-16 unit).
  if (pos + 5 + length * 3 > out.length) return DECLINED;
  if (length < 0x20) {
    // Short ASCII, the usual method name or key: written byte by byte behind a fixstr header.
    let i = 0;
    for (; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      out[pos + 1 + i] = c;
    }
    if (i === length) {
      out[pos] = 0xa0 | length;
      return pos + 1 + length;
    }
  }
  // Written after the widest header it may need, then moved up if a narrower one fits.
  const header = length < 0x20 ? 2 : length * 3 < 0x10000 ? 3 : 5;
  const bytes = out.write(s, pos + header, 'utf8');
  if (bytes < 0x20) {
    out.copyWithin(pos + 1, pos + header, pos + header + bytes);
    out[pos] = 0xa0 | bytes;
    return pos + 1 + bytes;
  }
  if (bytes < 0x100) {
    if (header !== 2) out.copyWithin(pos + 2, pos + header, pos + header + bytes);
    out[pos] = 0xd9;
    out[pos + 1] = bytes;
    return pos + 2 + bytes;
  }
  if (bytes < 0x10000) {
    if (header !== 3) out.copyWithin(pos + 3, pos + header, pos + header + bytes);
    out[pos] = 0xda;
    out.writeUInt16BE(bytes, pos + 1);
    return pos + 3 + bytes;
  }
  out[pos] = 0xdb;
  out.writeUInt32BE(bytes, pos + 1);
  return pos + 5 + bytes;
}

function writeArray(array: unknown[], out: Buffer, pos: number, depth: number): number {
  const length = array.length;
  if (pos + 5 > out.length) return DECLINED;
  if (length < 0x10) out[pos++] = 0x90 | length;
  else if (length < 0x10000) {
    out[pos++] = 0xdc;
    out.writeUInt16BE(length, pos);
    pos += 2;
  } else {
    out[pos++] = 0xdd;
    out.writeUInt32BE(length, pos);
    pos += 4;
  }
  for (let i = 0; i < length; i++) {
    pos = write(array[i], out, pos, depth + 1);
    if (pos < 0) return DECLINED;
  }
  return pos;
}

/** A map 16 of the own enumerable string keys, as the codec's msgpackr settings write it. */
function writeObject(record: Record<string, unknown>, out: Buffer, pos: number, depth: number): number {
  const start = pos;
  if (pos + 3 > out.length) return DECLINED;
  pos += 3;
  // Object.keys lists the own enumerable string keys in for-in order, as msgpackr writes them,
  // and is several times cheaper than a for-in with an own-property check per key.
  const keys = Object.keys(record);
  const count = keys.length;
  if (count > 0xffff) return DECLINED;
  for (let i = 0; i < count; i++) {
    const key = keys[i]!;
    const item = record[key];
    // An object under these keys is refused (body-check.ts): msgpackr's path says why.
    if (typeof item === 'object' && item !== null && (key === 'constructor' || key === 'prototype' || key === '__proto__')) return DECLINED;
    pos = writeString(key, out, pos);
    if (pos < 0) return DECLINED;
    pos = write(item, out, pos, depth + 1);
    if (pos < 0) return DECLINED;
  }
  out[start] = 0xde;
  out.writeUInt16BE(count, start + 1);
  return pos;
}
