// MessagePack bodies written byte by byte, as a hostile peer or broker publisher would: weft's
// own writer refuses to make them. Each nested body is its levels' prefixes, outermost first,
// then the innermost value, so a deep one is built in one copy.
import { Packr } from 'msgpackr/index-no-eval';

const packr = new Packr({ useRecords: false });
const str = (text: string): Buffer => packr.pack(text);

function nest(levels: number, prefix: (level: number) => Buffer, innermost: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let level = 0; level < levels; level++) parts.push(prefix(level));
  parts.push(innermost);
  return Buffer.concat(parts);
}

/** An Error extension (0x65) whose cause is the next one, `levels` deep: issue 11's body. */
export function nestedErrors(levels: number): Buffer {
  return nest(levels, (level) => Buffer.concat([
    Buffer.from([0xd4, 0x65, 0x00, 0x84]),
    str('name'), str('Error'), str('message'), str(`level ${level}`), str('stack'), str(`Error: level ${level}\n    at hostile`),
    str('cause'),
  ]), str('the end'));
}

/** Errors nested through a property (`props.inner`) instead of the cause. */
export function errorsInProperties(levels: number): Buffer {
  return nest(levels, () => Buffer.concat([
    Buffer.from([0xd4, 0x65, 0x00, 0x83]), str('name'), str('Error'), str('message'), str('m'), str('props'),
    Buffer.from([0x81]), str('inner'),
  ]), str('the end'));
}

export const nestedArrays = (levels: number): Buffer => nest(levels, () => Buffer.from([0x91]), Buffer.from([0x01]));
export const nestedMaps = (levels: number): Buffer => nest(levels, () => Buffer.from([0x81, 0xa1, 0x61]), Buffer.from([0x01]));
/** weft's Map extension (0x6d): [key, next]. */
export const nestedMapExtensions = (levels: number): Buffer => nest(levels, () => Buffer.from([0xd4, 0x6d, 0x00, 0x92, 0x01]), Buffer.from([0x01]));
/** msgpackr's Set extension (0x73): [next]. */
export const nestedSets = (levels: number): Buffer => nest(levels, () => Buffer.from([0xd4, 0x73, 0x00, 0x91]), Buffer.from([0x01]));

/** `{ [key]: { [inner]: { polluted: 'yes' } } }` with the keys written as fixstr, or as str 8 when `wide`. */
export function pollutingMap(key: string, inner: string, wide = false): Buffer {
  const keyBytes = (text: string) => wide
    ? Buffer.concat([Buffer.from([0xd9, text.length]), Buffer.from(text, 'latin1')])
    : str(text);
  return Buffer.concat([
    Buffer.from([0x81]), keyBytes(key),
    Buffer.from([0x81]), keyBytes(inner),
    Buffer.from([0x81]), keyBytes('polluted'), str('yes'),
  ]);
}

/** The classic recursive merge that pollutes Object.prototype when `source` lets it. */
export function naiveMerge(target: any, source: any): any {
  for (const key in source) {
    const value = source[key];
    if (typeof value === 'object' && value !== null) {
      if (!(key in target)) target[key] = {};
      naiveMerge(target[key], value);
    } else {
      target[key] = value;
    }
  }
  return target;
}
