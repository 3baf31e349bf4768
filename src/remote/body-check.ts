import { MAX_ERROR_NESTING } from '../core/errors.js';

/**
 * The limits a MessagePack body must keep before msgpackr reads it, checked on the bytes alone.
 *
 *   bytes ──► checkBody (one pass, no recursion, no allocation) ──► msgpackr unpack ──► value
 *                 │ a problem: a sentence, and nothing is read
 *                 ▼
 *   decode: ProtocolError          encode (msgpackr's output): TypeError at the sender
 *
 * msgpackr reads recursively, one or two stack frames per level, and has no depth limit: a body
 * of 100,000 nested arrays is a stack overflow, and a body deep enough to stay just under one
 * reaches handlers that recurse over it. This pass walks the same bytes with an explicit stack,
 * so it is linear in the input and bounded in depth whatever the input, and refuses:
 *
 *  - nesting deeper than MAX_NESTING containers (arrays, maps and the extensions that wrap a
 *    value: errors, Maps, Sets, RegExps, references), and errors inside errors (as a cause or a
 *    property) deeper than MAX_ERROR_NESTING;
 *  - a map key `__proto__`, `constructor` or `prototype` holding anything but a scalar (nil,
 *    boolean, number, string, undefined, bigint): with such a key, a naive recursive merge of the
 *    decoded value into a plain object walks into Object.prototype (or Object itself) and writes
 *    there. Scalars under those keys are harmless and kept (msgpackr still renames `__proto__`
 *    to `__proto_`, so that no key can set an object's prototype);
 *  - MessagePack forms weft never writes and msgpackr would act on: record definitions (0x72),
 *    bundled strings (0x62), structured-clone ids and pointers (0x69, 0x70, which can build
 *    cycles), the unused byte 0xc1, and extension types that are not in docs/protocol.md §4.
 *
 * The encoder runs the same pass over what msgpackr wrote, so a value weft agrees to send is a
 * value weft agrees to read: deep data fails at the sender with a TypeError, not at the receiver.
 */

/**
 * Containers may nest this deep. Deep enough for any data a program means to send (a CALL's
 * envelope takes two levels; JSON parsers elsewhere stop at 100 to 1,000), and far from the
 * stack: msgpackr's reader, its writer and a handler's own recursion over the value each spend
 * one to three frames per level, and Node's default stack holds about 10,000 frames.
 */
export const MAX_NESTING = 512;

/** Errors inside errors: core/errors.ts gives the limit and its reason (RemoteError cuts there too). */
export { MAX_ERROR_NESTING };

const ARRAY = 0;
const MAP = 1;
const ERROR = 2;

// Weft's own extensions (codec.ts), always written as fixext 1 with a zero byte, then the value.
const EXT_ERROR = 0x65;
const EXT_MAP = 0x6d;
const EXT_REF = 0x01;
const EXT_REF_BACK = 0x02;
// msgpackr's extensions that carry their data in the payload (undefined, BigInt, typed arrays and
// ArrayBuffer, Date), and those that read a value after it (Set, RegExp).
const EXT_UNDEFINED = 0x00;
const EXT_BIGINT = 0x42;
const EXT_TYPED_ARRAY = 0x74;
const EXT_DATE = 0xff;
const EXT_SET = 0x73;
const EXT_REGEXP = 0x78;

// The open containers: how many values each still holds, and what it is. Safe to share: the
// pass is synchronous and calls nothing.
const lefts = new Float64Array(MAX_NESTING);
const kinds = new Uint8Array(MAX_NESTING);

/** For each first byte of a fixed-size scalar, the bytes that follow it; -1 for anything else. */
const SCALAR_TAIL = new Int8Array(256).fill(-1);
SCALAR_TAIL.fill(0, 0x00, 0x80); // positive fixint
SCALAR_TAIL.fill(0, 0xe0, 0x100); // negative fixint
for (const [tail, tokens] of [[0, [0xc0, 0xc2, 0xc3]], [1, [0xcc, 0xd0]], [2, [0xcd, 0xd1]], [4, [0xca, 0xce, 0xd2]], [8, [0xcb, 0xcf, 0xd3]]] as const) {
  for (const token of tokens) SCALAR_TAIL[token] = tail;
}

const UNSAFE_KEYS = ['__proto__', 'prototype', 'constructor'].map((key) => Buffer.from(key, 'latin1'));

/**
 * Checks the MessagePack value in `src[start, end)`; returns undefined when it keeps every limit,
 * else what is wrong, as the end of a sentence ("nests deeper than ...").
 */
export function checkBody(src: Uint8Array, start: number, end: number): string | undefined {
  let pos = start;
  let depth = 0;
  let errors = 0;
  let kind = ARRAY;
  // Values left to read in the innermost open container (the body itself is one value).
  let left = 1;
  // 1 + the index in UNSAFE_KEYS of the map key just read, else 0: its value must be a scalar.
  let unsafe = 0;
  for (;;) {
    if (left === 0) {
      if (depth === 0) break;
      if (kind === ERROR) errors--;
      depth--;
      left = lefts[depth]!;
      kind = kinds[depth]!;
      continue;
    }
    left--;
    if (pos >= end) return ENDS_EARLY;
    const token = src[pos++]!;
    const tail = SCALAR_TAIL[token]!;
    if (tail >= 0) {
      pos += tail;
      unsafe = 0;
      continue;
    }
    if ((token >= 0xa0 && token < 0xc0) || (token >= 0xd9 && token <= 0xdb)) {
      // fixstr, str 8/16/32
      let length = token & 0x1f;
      if (token >= 0xd9) {
        const size = 1 << (token - 0xd9);
        if (pos + size > end) return ENDS_EARLY;
        length = readLength(src, pos, size);
        pos += size;
      }
      unsafe = kind === MAP && (left & 1) === 1 && (length === 9 || length === 11) ? unsafeKeyAt(src, pos, length) : 0;
      pos += length;
      continue;
    }
    let count: number;
    let nextKind = ARRAY;
    if (token < 0x90) {
      count = (token & 0x0f) * 2;
      nextKind = MAP;
    } else if (token < 0xa0) {
      count = token & 0x0f;
    } else if (token === 0xdc || token === 0xdd || token === 0xde || token === 0xdf) {
      // array 16/32, map 16/32
      const size = token & 1 ? 4 : 2;
      if (pos + size > end) return ENDS_EARLY;
      count = readLength(src, pos, size);
      pos += size;
      if (token >= 0xde) {
        count *= 2;
        nextKind = MAP;
      }
    } else if (token >= 0xc4 && token <= 0xc6) {
      // bin 8/16/32: an object (a Buffer) when read
      if (unsafe) return unsafeValue(unsafe, 'binary data');
      const size = 1 << (token - 0xc4);
      if (pos + size > end) return ENDS_EARLY;
      pos += size + readLength(src, pos, size);
      continue;
    } else if (token === 0xc1) {
      return 'is not valid MessagePack: it holds the byte 0xc1, which MessagePack never uses';
    } else {
      // Extensions: fixext 1/2/4/8/16 (0xd4-0xd8) and ext 8/16/32 (0xc7-0xc9).
      let payload: number;
      if (token >= 0xd4) payload = 1 << (token - 0xd4);
      else {
        const size = 1 << (token - 0xc7);
        if (pos + size > end) return ENDS_EARLY;
        payload = readLength(src, pos, size);
        pos += size;
      }
      if (pos + 1 + payload > end) return ENDS_EARLY;
      const type = src[pos++]!;
      pos += payload;
      switch (type) {
        case EXT_UNDEFINED: case EXT_BIGINT:
          unsafe = 0;
          continue;
        case EXT_TYPED_ARRAY: case EXT_DATE:
          if (unsafe) return unsafeValue(unsafe, 'an extension value');
          continue;
        case EXT_SET: case EXT_REGEXP:
          break;
        case EXT_ERROR: case EXT_MAP: case EXT_REF: case EXT_REF_BACK:
          if (token !== 0xd4) return `holds extension 0x${hex(type)} with a payload of ${payload} bytes; weft writes it as fixext 1 followed by its value`;
          if (type === EXT_ERROR) {
            if (errors === MAX_ERROR_NESTING) return `nests errors deeper than ${MAX_ERROR_NESTING} levels (as causes or properties of errors)`;
            errors++;
            nextKind = ERROR;
          }
          break;
        default:
          return `holds extension type 0x${hex(type)}, which is not part of weft's protocol`;
      }
      // A wrapper: the value after the payload is read into the extension's result.
      if (unsafe) return unsafeValue(unsafe, 'an extension value');
      count = 1;
    }
    if (unsafe) return unsafeValue(unsafe, nextKind === MAP ? 'a map' : 'an array');
    // Every value takes a byte at least: a count beyond the bytes left can never be met.
    if (count > end - pos) return ENDS_EARLY;
    if (count === 0) continue;
    if (depth === MAX_NESTING) return `nests deeper than ${MAX_NESTING} levels (arrays, maps and extensions that hold a value)`;
    lefts[depth] = left;
    kinds[depth] = kind;
    depth++;
    left = count;
    kind = nextKind;
  }
  if (pos > end) return ENDS_EARLY;
  if (pos < end) return `is not valid MessagePack: ${end - pos} byte${end - pos === 1 ? ' follows' : 's follow'} its value`;
  return undefined;
}

const ENDS_EARLY = 'is not valid MessagePack: it ends before its last value does';

function readLength(src: Uint8Array, pos: number, size: number): number {
  if (size === 1) return src[pos]!;
  if (size === 2) return (src[pos]! << 8) | src[pos + 1]!;
  return src[pos]! * 0x1000000 + ((src[pos + 1]! << 16) | (src[pos + 2]! << 8) | src[pos + 3]!);
}

function unsafeKeyAt(src: Uint8Array, pos: number, length: number): number {
  for (let k = 0; k < UNSAFE_KEYS.length; k++) {
    const key = UNSAFE_KEYS[k]!;
    if (key.length !== length) continue;
    let i = 0;
    while (i < length && src[pos + i] === key[i]) i++;
    if (i === length) return k + 1;
  }
  return 0;
}

function unsafeValue(unsafe: number, what: string): string {
  const key = UNSAFE_KEYS[unsafe - 1]!.toString('latin1');
  return `has a map key "${key}" holding ${what}; only a scalar may sit under __proto__, constructor or prototype (an object there could reach Object.prototype through a recursive merge)`;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
