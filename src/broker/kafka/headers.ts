/**
 * How weft's message properties and a user's headers travel as Kafka record headers (UTF-8
 * values). weft's own names start with `weft-`; the content type is `content-type`, read in any
 * case. A user header whose name is one of those travels escaped as `weft-h-<hex of its name>`.
 */
import type { IHeaders } from 'kafkajs';
import { CONTENT_TYPE, type TransportProperties } from '../transport.js';

export const CONTENT_TYPE_HEADER = 'content-type';
export const REPLY_TO = 'weft-reply-to';
export const CORRELATION_ID = 'weft-correlation-id';
/** The delivery attempt a requeued copy starts at (2 for the first requeue); absent: 1. */
export const ATTEMPT = 'weft-attempt';
/** On a dead letter: why it is there (`rejected`: nacked without requeue; `max-attempts`; `not-weft (content type: ...)`: another program's record, refused unread). */
export const DEAD_REASON = 'weft-dead-reason';
/** On a dead letter: the queue it came from. */
export const DEAD_QUEUE = 'weft-dead-queue';
/** On an inbox record: which inbox of the topic it is for. */
export const INBOX = 'weft-inbox';
const ESCAPED = 'weft-h-';

function isReserved(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === CONTENT_TYPE_HEADER || lower.startsWith('weft-');
}

/** A header's value as text: the last one where a name repeats; bytes read as UTF-8. */
export function headerText(value: IHeaders[string]): string | undefined {
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  if (last === undefined) return undefined;
  return typeof last === 'string' ? last : last.toString('utf8');
}

/** The content type a record was marked with, whatever the case of the header's name (other programs write it as they like). */
export function contentTypeOf(headers: IHeaders | undefined): string | undefined {
  if (!headers) return undefined;
  for (const name of Object.keys(headers)) if (name.toLowerCase() === CONTENT_TYPE_HEADER) return headerText(headers[name]);
  return undefined;
}

export function encodeHeaders(properties: TransportProperties): IHeaders {
  const headers: IHeaders = { [CONTENT_TYPE_HEADER]: properties.contentType ?? CONTENT_TYPE };
  if (properties.replyTo !== undefined) headers[REPLY_TO] = properties.replyTo;
  if (properties.correlationId !== undefined) headers[CORRELATION_ID] = properties.correlationId;
  for (const [name, value] of Object.entries(properties.headers ?? {})) {
    headers[isReserved(name) ? ESCAPED + Buffer.from(name, 'utf8').toString('hex') : name] = value;
  }
  return headers;
}

export interface DecodedHeaders {
  properties: TransportProperties;
  headers: Record<string, string>;
  /** 1 for a record as published; n for the copy made by the (n-1)th requeue. */
  attempt: number;
}

export function decodeHeaders(received: IHeaders | undefined): DecodedHeaders {
  const properties: TransportProperties = {};
  const headers: Record<string, string> = {};
  let attempt = 1;
  for (const [name, raw] of Object.entries(received ?? {})) {
    const value = headerText(raw);
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (lower === CONTENT_TYPE_HEADER) properties.contentType = value;
    else if (name === REPLY_TO) properties.replyTo = value;
    else if (name === CORRELATION_ID) properties.correlationId = value;
    else if (name === ATTEMPT) attempt = Math.max(1, Number.parseInt(value, 10) || 1);
    else if (name.startsWith(ESCAPED)) headers[Buffer.from(name.slice(ESCAPED.length), 'hex').toString('utf8')] = value;
    else if (!lower.startsWith('weft-')) headers[name] = value;
  }
  return { properties, headers, attempt };
}

/** A record's headers with some of weft's replaced: for requeued copies and dead letters, which keep everything else as it was (a foreign record stays unmarked). */
export function withHeaders(received: IHeaders | undefined, changes: Record<string, string>): IHeaders {
  return { ...received, ...changes };
}
