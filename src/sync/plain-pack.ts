/**
 * Packs a plain tree (see plain-tree.ts for what counts as one) as msgpack, checking while it
 * writes: one walk instead of isPlainTree's walk followed by msgpackr's, and no allocation but
 * Object.keys. The output is ordinary msgpack, read back by msgpackr's unpack (maps as objects,
 * `undefined` as fixext1 type 0, as msgpackr writes it).
 *
 *   value ─ walk ─▶ target[0, n)   n ≥ 0: packed
 *                                 NOT_PLAIN: not a plain tree (the caller uses v8.serialize)
 *                                 NO_ROOM: a plain tree, maybe, too big for target (the caller
 *                                          checks and packs it the slow way)
 */
export const NOT_PLAIN = -1;
export const NO_ROOM = -2;

/** The same limits as isPlainTree: past them, v8's per-call cost is spread over many values. */
const MAX_NODES = 256;
const MAX_DEPTH = 16;
/** Strings up to this many UTF-16 units are written by hand: cheaper than Buffer#write for short ones. */
const HAND_STRING = 64;

let target: Buffer;
let view: DataView;
let at = 0;
let limit = 0;
let nodes = 0;
/** Every container seen in this walk: a second sighting is a shared or cyclic reference, which msgpack would copy. */
const seen: object[] = [];

/** Packs `value` (an object) into `into` (viewed by `intoView`); its length, NOT_PLAIN or NO_ROOM. */
export function packPlainTree(value: object, into: Buffer, intoView: DataView): number {
  target = into;
  view = intoView;
  at = 0;
  limit = into.length;
  nodes = 0;
  seen.length = 0;
  const outcome = packObject(value, 0);
  seen.length = 0;
  return outcome < 0 ? outcome : at;
}

/** 0 when written, else NOT_PLAIN or NO_ROOM. */
function packValue(value: unknown, depth: number): number {
  if (++nodes > MAX_NODES) return NOT_PLAIN;
  if (at + 9 > limit) return NO_ROOM;
  switch (typeof value) {
    case 'number': return packNumber(value);
    case 'string': return packString(value);
    case 'boolean':
      target[at++] = value ? 0xc3 : 0xc2;
      return 0;
    case 'undefined':
      target[at++] = 0xd4;
      target[at++] = 0;
      target[at++] = 0;
      return 0;
    case 'object':
      if (value === null) {
        target[at++] = 0xc0;
        return 0;
      }
      return packObject(value, depth + 1);
    default: return NOT_PLAIN;
  }
}

function packNumber(value: number): number {
  if ((value | 0) === value) {
    // -0 passes `| 0` but a structured clone keeps its sign: msgpack would not.
    if (value === 0 && 1 / value < 0) return NOT_PLAIN;
    if (value >= 0) {
      if (value < 0x80) target[at++] = value;
      else if (value < 0x10000) {
        target[at++] = 0xcd;
        view.setUint16(at, value);
        at += 2;
      } else {
        target[at++] = 0xce;
        view.setUint32(at, value);
        at += 4;
      }
    } else if (value >= -0x20) target[at++] = 0x100 + value;
    else {
      target[at++] = 0xd2;
      view.setInt32(at, value);
      at += 4;
    }
    return 0;
  }
  target[at++] = 0xcb;
  view.setFloat64(at, value);
  at += 8;
  return 0;
}

/** A UTF-8 string; a lone surrogate (which UTF-8 cannot carry) makes the tree not plain. */
function packString(value: string): number {
  const units = value.length;
  if (units < HAND_STRING) {
    // At most 3 bytes a unit: under 32 units a fixstr might not do, so str8 (2-byte header) always.
    if (at + 2 + units * 3 > limit) return NO_ROOM;
    const start = at + 2;
    let out = start;
    for (let i = 0; i < units; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x80) target[out++] = c;
      else if (c < 0x800) {
        target[out++] = 0xc0 | (c >> 6);
        target[out++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        target[out++] = 0xe0 | (c >> 12);
        target[out++] = 0x80 | ((c >> 6) & 0x3f);
        target[out++] = 0x80 | (c & 0x3f);
      } else {
        const low = c < 0xdc00 && i + 1 < units ? value.charCodeAt(i + 1) : 0;
        if (low < 0xdc00 || low > 0xdfff) return NOT_PLAIN;
        i++;
        const point = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        target[out++] = 0xf0 | (point >> 18);
        target[out++] = 0x80 | ((point >> 12) & 0x3f);
        target[out++] = 0x80 | ((point >> 6) & 0x3f);
        target[out++] = 0x80 | (point & 0x3f);
      }
    }
    target[at] = 0xd9;
    target[at + 1] = out - start;
    at = out;
    return 0;
  }
  if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) return NOT_PLAIN;
  if (at + 5 + units * 3 > limit) return NO_ROOM;
  const length = target.write(value, at + 5, 'utf8');
  target[at] = 0xdb;
  view.setUint32(at + 1, length);
  at += 5 + length;
  return 0;
}

function packObject(value: object, depth: number): number {
  if (depth > MAX_DEPTH || seen.includes(value)) return NOT_PLAIN;
  seen.push(value);
  const proto = Object.getPrototypeOf(value) as object | null;
  if (at + 5 > limit) return NO_ROOM;
  if (proto === Array.prototype) {
    const array = value as unknown[];
    const length = array.length;
    if (length > MAX_NODES) return NOT_PLAIN;
    // Holes and named properties both make the key count differ from the length.
    if (Object.keys(array).length !== length) return NOT_PLAIN;
    if (length < 16) target[at++] = 0x90 | length;
    else {
      target[at++] = 0xdc;
      view.setUint16(at, length);
      at += 2;
    }
    for (let i = 0; i < length; i++) {
      const item = array[i];
      // A hole with a named property beside it passes the count: `in` tells it from undefined.
      if (item === undefined && !(i in array)) return NOT_PLAIN;
      const outcome = packValue(item, depth);
      if (outcome < 0) return outcome;
    }
    return 0;
  }
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  const count = keys.length;
  if (count > MAX_NODES) return NOT_PLAIN;
  if (count < 16) target[at++] = 0x80 | count;
  else {
    target[at++] = 0xde;
    view.setUint16(at, count);
    at += 2;
  }
  for (let k = 0; k < count; k++) {
    const key = keys[k]!;
    if (key === '__proto__') return NOT_PLAIN;
    const written = packString(key);
    if (written < 0) return written;
    const outcome = packValue(record[key], depth);
    if (outcome < 0) return outcome;
  }
  return 0;
}
