/**
 * How a weft message is kept in a Redis stream entry, and the script that settles one.
 * Fields: `m` the payload of a weft body (content type application/x-msgpack: the field's name
 * is the mark, so that no content-type field is written and read per message), or `t` a content
 * type and `p` its payload (a body marked otherwise; also how weft wrote its own bodies before);
 * `r` replyTo, `c` correlationId, `h` headers as JSON, and `d` = 1 on a copy put back by
 * nack(true) or close(), so that its next delivery says redelivered. An entry with `p` and no
 * `t` (another program's) has no content type, and is refused.
 */
import { createHash } from 'node:crypto';
import { CONTENT_TYPE, type TransportProperties } from '../transport.js';

/** The consumer group every weft consumer of a queue reads through. */
export const GROUP = 'weft';

export const streamKey = (queue: string): string => `weft:q:${queue}`;

/**
 * KEYS[1] the stream, ARGV[1] the group, ARGV[2] the entry id, ARGV[3..] the fields of a copy
 * to add (requeue) or none (ack, drop). Adds the copy only if this call removed the entry from
 * the pending list: a message settled twice, or by two consumers, is requeued at most once.
 */
export const SETTLE_SCRIPT = `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if acked == 1 and #ARGV > 2 then redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3)) end
return acked`;
export const SETTLE_SHA = createHash('sha1').update(SETTLE_SCRIPT).digest('hex');

/** KEYS[1] the stream, ARGV[1] the group, ARGV[2] a consumer: removed from the group if it has no pending entry. */
export const DELETE_IDLE_CONSUMER_SCRIPT = `
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])`;

/** One entry as XREADGROUP / XAUTOCLAIM return it; fields are null for a deleted entry. */
export type RawEntry = [id: Buffer, fields: Buffer[] | null];

export function entryFields(payload: Uint8Array, properties: TransportProperties): Array<string | Buffer> {
  const body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const contentType = properties.contentType;
  const fields: Array<string | Buffer> = contentType === undefined || contentType === CONTENT_TYPE ? ['m', body] : ['t', contentType, 'p', body];
  if (properties.replyTo !== undefined) fields.push('r', properties.replyTo);
  if (properties.correlationId !== undefined) fields.push('c', properties.correlationId);
  if (properties.headers && Object.keys(properties.headers).length > 0) fields.push('h', JSON.stringify(properties.headers));
  return fields;
}

type ParsedEntry = TransportProperties & { payload: Uint8Array; headers: Record<string, string>; redelivered: boolean };

/**
 * An entry as a delivery sees it. Another program's entry may have any fields: those weft does
 * not use become headers (so that a refused entry still shows what it held), and `h` that is
 * not a JSON object of strings is kept as the header `h`. Never throws.
 */
export function parseFields(fields: Buffer[]): ParsedEntry {
  const message: ParsedEntry = { payload: EMPTY, headers: {}, redelivered: false };
  let other: Record<string, string> | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    // weft's own names are one byte: switch on it, no string per field name (the hot path).
    switch (name.length === 1 ? name[0] : -1) {
      // A copy: the reply's buffer may be a slice of a whole socket read, not to be kept alive.
      case M: message.payload = new Uint8Array(value); message.contentType = CONTENT_TYPE; break;
      case T: message.contentType = value.toString(); break;
      case P: message.payload = new Uint8Array(value); break;
      case R: message.replyTo = value.toString(); break;
      case C: message.correlationId = value.toString(); break;
      case H: message.headers = parseHeaders(value.toString()); break;
      case D: message.redelivered = true; break;
      default: (other ??= {})[name.toString()] = value.toString();
    }
  }
  if (other !== undefined) message.headers = { ...other, ...message.headers };
  return message;
}

const EMPTY = new Uint8Array(0);
/** The byte of each one-letter field name. */
const M = 0x6d, T = 0x74, P = 0x70, R = 0x72, C = 0x63, H = 0x68, D = 0x64;

function parseHeaders(text: string): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && Object.values(parsed).every((v) => typeof v === 'string')) {
      return parsed as Record<string, string>;
    }
  } catch {
    // Not JSON: another program's field.
  }
  return { h: text };
}

/** The fields of an entry, marked so that its next delivery says redelivered. */
export function redeliveredCopy(fields: Buffer[]): Buffer[] {
  const copy: Buffer[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i]!.toString() !== 'd') copy.push(fields[i]!, fields[i + 1]!);
  }
  copy.push(Buffer.from('d'), Buffer.from('1'));
  return copy;
}
