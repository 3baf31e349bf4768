/**
 * W3C Trace Context `traceparent` strings, the one carrier weft sends across threads,
 * processes, hosts and brokers: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`.
 * Parsed by hand (it is four fields) so that passing a trace on needs no OpenTelemetry here.
 */
export interface SpanIds {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

const PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The ids in a carrier, or undefined when it is not a valid version-00 traceparent. */
export function parseTraceparent(value: unknown): SpanIds | undefined {
  if (typeof value !== 'string') return undefined;
  const match = PATTERN.exec(value);
  if (!match || match[1] === ZERO_TRACE || match[2] === ZERO_SPAN) return undefined;
  return { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16) };
}

export function formatTraceparent(ids: SpanIds): string {
  return `00-${ids.traceId}-${ids.spanId}-${(ids.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The header name brokers carry it under (as OpenTelemetry's W3C propagator names it). */
export const TRACEPARENT_HEADER = 'traceparent';
