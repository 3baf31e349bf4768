import { deserialize, serialize } from 'node:v8';

/**
 * How Queue and Pipe turn an item into bytes. Numbers, strings, booleans, null and undefined —
 * most of what queues carry — get a one-byte tag and their raw bytes; anything else goes through
 * v8.serialize (the structured clone of postMessage), which costs several microseconds per call
 * because every call builds a serializer. Decoding gives the same value either way.
 */
const V8 = 0;
const NUMBER = 1;
const STRING = 2;
const TRUE = 3;
const FALSE = 4;
const NULL = 5;
const UNDEFINED = 6;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const scratch = new DataView(new ArrayBuffer(8));

export function encodeItem(item: unknown, what: string): Uint8Array {
  switch (typeof item) {
    case 'number': {
      const out = new Uint8Array(9);
      out[0] = NUMBER;
      new DataView(out.buffer).setFloat64(1, item);
      return out;
    }
    case 'string': {
      // UTF-8 cannot carry a lone surrogate, which structured clone keeps: those go through v8.
      if (!(item as string & { isWellFormed(): boolean }).isWellFormed()) break;
      // Worst case three bytes per UTF-16 unit; trimmed to what encodeInto wrote.
      const out = new Uint8Array(1 + item.length * 3);
      out[0] = STRING;
      const { written } = encoder.encodeInto(item, out.subarray(1));
      return out.subarray(0, 1 + written);
    }
    case 'boolean': return Uint8Array.of(item ? TRUE : FALSE);
    case 'undefined': return Uint8Array.of(UNDEFINED);
    default:
      if (item === null) return Uint8Array.of(NULL);
  }
  return encodeWithV8(item, what);
}

function encodeWithV8(item: unknown, what: string): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = serialize(item);
  } catch (error) {
    throw new TypeError(`${what}: expected a structured-clonable item, got one that is not (${(error as Error).message})`, { cause: error });
  }
  const out = new Uint8Array(1 + bytes.length);
  out[0] = V8;
  out.set(bytes, 1);
  return out;
}

export function decodeItem(bytes: Uint8Array): unknown {
  switch (bytes[0]) {
    case NUMBER:
      for (let i = 0; i < 8; i++) scratch.setUint8(i, bytes[1 + i]!);
      return scratch.getFloat64(0);
    case STRING: return decoder.decode(bytes.subarray(1));
    case TRUE: return true;
    case FALSE: return false;
    case NULL: return null;
    case UNDEFINED: return undefined;
    default: return deserialize(bytes.subarray(1));
  }
}
