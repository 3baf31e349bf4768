/** How weft's message properties and a user's headers travel in NATS headers. */
import type { MsgHdrs } from 'nats';
import { peer } from '../../peers/load.js';
import { CONTENT_TYPE, type TransportProperties } from '../transport.js';

export const REPLY_TO = 'Weft-Reply-To';
export const CORRELATION_ID = 'Weft-Correlation-Id';
/** The payload's content type: weft marks all it sends (queues, inboxes, topics) with CONTENT_TYPE. */
export const CONTENT_TYPE_HEADER = 'Content-Type';
/** A user header whose name or value NATS cannot carry travels as `Weft-H-<hex name>: <URI-encoded value>`. */
const ESCAPED = 'Weft-H-';

/** Printable ASCII without ':', as NATS header names must be; ours and the server's names (and Content-Type) are reserved. */
function isPlainHeaderName(name: string): boolean {
  return /^[\x21-\x39\x3b-\x7e]+$/.test(name) && !/^(weft|nats)-/i.test(name) && name.toLowerCase() !== 'content-type';
}

/** Headers that say only what the payload is: for inboxes' and topics' payloads. */
export function contentTypeHeaders(): MsgHdrs {
  const headers = peer('nats').headers();
  headers.set(CONTENT_TYPE_HEADER, CONTENT_TYPE);
  return headers;
}

/** The content type a message was marked with, whatever the case of the header's name (other programs write it as they like). */
export function contentTypeOf(received: MsgHdrs | undefined): string | undefined {
  if (!received) return undefined;
  for (const name of received.keys()) if (name.toLowerCase() === 'content-type') return received.get(name);
  return undefined;
}

/** NATS trims values and cannot carry line breaks. */
function isPlainHeaderValue(value: string): boolean {
  return !/[\r\n]/.test(value) && value.trim() === value;
}

export function encodeHeaders(properties: TransportProperties): MsgHdrs {
  const headers = peer('nats').headers();
  headers.set(CONTENT_TYPE_HEADER, properties.contentType ?? CONTENT_TYPE);
  if (properties.replyTo !== undefined) headers.set(REPLY_TO, encodeURIComponent(properties.replyTo));
  if (properties.correlationId !== undefined) headers.set(CORRELATION_ID, encodeURIComponent(properties.correlationId));
  for (const [name, value] of Object.entries(properties.headers ?? {})) {
    if (isPlainHeaderName(name) && isPlainHeaderValue(value)) headers.set(name, value);
    else headers.set(ESCAPED + Buffer.from(name, 'utf8').toString('hex'), encodeURIComponent(value));
  }
  return headers;
}

export function decodeHeaders(received: MsgHdrs | undefined): { properties: TransportProperties; headers: Record<string, string> } {
  const properties: TransportProperties = {};
  const headers: Record<string, string> = {};
  if (!received) return { properties, headers };
  for (const name of received.keys()) {
    const value = received.get(name);
    if (name === REPLY_TO) properties.replyTo = decodeText(value);
    else if (name === CORRELATION_ID) properties.correlationId = decodeText(value);
    else if (name.toLowerCase() === 'content-type') properties.contentType = value;
    else if (name.startsWith(ESCAPED)) headers[Buffer.from(name.slice(ESCAPED.length), 'hex').toString('utf8')] = decodeText(value);
    else if (!/^nats-/i.test(name)) headers[name] = value;
  }
  return { properties, headers };
}

/** Undoes encodeURIComponent; a value some other publisher wrote by hand is taken as it is. */
export function decodeText(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
