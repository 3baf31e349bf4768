/**
 * How a weft message travels in an SQS message. SQS bodies are text (XML characters only), so
 * the payload is the body in base64; the properties are String message attributes:
 *
 *   Content-Type          application/x-msgpack (weft's mark: the body is base64 of MessagePack)
 *   Weft-Reply-To         the replyTo, URI-encoded
 *   Weft-Correlation-Id   the correlationId, URI-encoded
 *   Weft-Headers          the headers as a JSON object (SQS allows 10 attributes a message)
 *   Weft-Dead-Reason      on a message nack(false) moved to the dead-letter queue: why
 *
 * A message without weft's mark (another program's) is handed over as the UTF-8 of its body,
 * for onRefused to see as it was sent.
 */
import { CONTENT_TYPE, type TransportProperties } from '../transport.js';

/** SQS's largest message: body and attributes (names, types and values) together. */
export const MAX_MESSAGE_BYTES = 262_144;
/** Bytes of MAX_MESSAGE_BYTES kept for the attributes when telling the client how large a payload may be. */
const ATTRIBUTE_ROOM = 2048;
/** The largest payload whose base64 fits beside ATTRIBUTE_ROOM bytes of attributes. */
export const MAX_PAYLOAD = Math.floor((MAX_MESSAGE_BYTES - ATTRIBUTE_ROOM) / 4) * 3;

export const CONTENT_TYPE_ATTRIBUTE = 'Content-Type';
export const REPLY_TO = 'Weft-Reply-To';
export const CORRELATION_ID = 'Weft-Correlation-Id';
export const HEADERS = 'Weft-Headers';
export const DEAD_REASON = 'Weft-Dead-Reason';

export interface StringAttribute {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Uint8Array;
}
export type Attributes = Record<string, StringAttribute>;

/** One message to send: what SendMessageBatch takes, and its size as SQS counts it. */
export interface OutgoingMessage {
  body: string;
  attributes: Attributes;
  bytes: number;
}

/** A received message as the SDK gives it (the fields weft reads). */
export interface IncomingMessage {
  Body?: string;
  MessageAttributes?: Record<string, { DataType?: string; StringValue?: string; BinaryValue?: Uint8Array }>;
  Attributes?: Partial<Record<string, string>>;
  ReceiptHandle?: string;
}

const text = (value: string): StringAttribute => ({ DataType: 'String', StringValue: value });

/** A weft message for a queue: weft's mark unless `properties.contentType` says otherwise (tests play other programs). */
export function outgoing(payload: Uint8Array, properties: TransportProperties): OutgoingMessage {
  const attributes: Attributes = { [CONTENT_TYPE_ATTRIBUTE]: text(properties.contentType ?? CONTENT_TYPE) };
  // SQS refuses an empty String attribute; an empty replyTo or correlationId means none anyway.
  if (properties.replyTo) attributes[REPLY_TO] = text(encodeURIComponent(properties.replyTo));
  if (properties.correlationId) attributes[CORRELATION_ID] = text(encodeURIComponent(properties.correlationId));
  if (properties.headers && Object.keys(properties.headers).length > 0) attributes[HEADERS] = text(xmlSafeJson(properties.headers));
  return sized(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64'), attributes);
}

export function sized(body: string, attributes: Attributes): OutgoingMessage {
  let bytes = Buffer.byteLength(body, 'utf8');
  for (const [name, value] of Object.entries(attributes)) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value.DataType) + Buffer.byteLength(value.StringValue ?? '') + (value.BinaryValue?.byteLength ?? 0);
  }
  return { body, attributes, bytes };
}

/** JSON with the characters SQS refuses (U+FFFE, U+FFFF; JSON escapes the rest) escaped too. */
function xmlSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\uFFFE\uFFFF]/g, (char) => `\\u${char.charCodeAt(0).toString(16)}`);
}

export interface Decoded {
  payload: Uint8Array;
  contentType: string | undefined;
  properties: TransportProperties;
  headers: Record<string, string>;
}

/** The payload, the mark and the properties of a received message. */
export function decode(message: IncomingMessage): Decoded {
  const attributes = message.MessageAttributes ?? {};
  const properties: TransportProperties = {};
  let headers: Record<string, string> = {};
  let contentType: string | undefined;
  for (const [name, value] of Object.entries(attributes)) {
    const string = value.StringValue ?? (value.BinaryValue ? Buffer.from(value.BinaryValue).toString('utf8') : '');
    if (name.toLowerCase() === 'content-type') contentType = string;
    else if (name === REPLY_TO) properties.replyTo = decodeText(string);
    else if (name === CORRELATION_ID) properties.correlationId = decodeText(string);
    else if (name === HEADERS) headers = { ...headers, ...parseHeaders(string) };
    else setHeader(headers, name, string);
  }
  const body = message.Body ?? '';
  if (contentType !== CONTENT_TYPE) return { payload: Buffer.from(body, 'utf8'), contentType, properties, headers };
  // Marked as weft's, the body must be base64: anything else is refused, not decoded as bytes.
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) {
    return { payload: Buffer.from(body, 'utf8'), contentType: `${contentType} (but its body is not base64)`, properties, headers };
  }
  return { payload: Buffer.from(body, 'base64'), contentType, properties, headers };
}

/** An own property even for a name like `__proto__`. */
function setHeader(headers: Record<string, string>, name: string, value: string): void {
  Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
}

function parseHeaders(json: string): Record<string, string> {
  try {
    const value: unknown = JSON.parse(json);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { [HEADERS]: json };
    return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  } catch {
    // Another program's attribute of that name: kept as it is.
    return { [HEADERS]: json };
  }
}

/** Undoes encodeURIComponent; a value some other producer wrote by hand is taken as it is. */
function decodeText(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The mark alone (inboxes, topics), with a correlationId for inbox answers. */
export function markedOnly(payload: Uint8Array, correlationId?: string): OutgoingMessage {
  return outgoing(payload, correlationId === undefined ? {} : { correlationId });
}
