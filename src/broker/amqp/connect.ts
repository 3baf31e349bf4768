/** Connecting to RabbitMQ: within a time limit, with weft's errors, without weft's URL settings. */
import type { ChannelModel } from 'amqplib';
import { AuthenticationError, ConnectionClosedError, TimeoutError } from '../../core/errors.js';
import { loadPeer } from '../../peers/load.js';

/** Query parameters openBroker() reads itself; amqplib must not see them. */
const WEFT_QUERY_PARAMS = ['redeliverAfter', 'connectTimeout', 'prefetch'];

/** Connects, or rejects with a weft error within `timeoutMs` whatever the server does. */
export async function connectWithin(url: URL, timeoutMs: number): Promise<ChannelModel> {
  const { connect } = await loadPeer('amqplib', 'amqp:// broker URLs');
  const where = describeUrl(url);
  // noDelay: a request, its reply and an ack are small frames; Nagle's algorithm would hold one
  // back until the previous is acknowledged (tens of ms with delayed ACKs) on every round trip.
  const attempt = connect(amqplibUrl(url), { timeout: timeoutMs, noDelay: true });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`could not connect to RabbitMQ at ${where} within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([attempt, deadline]);
  } catch (error) {
    // A connection that opens after we gave up must not linger.
    attempt.then((late) => late.close().catch(() => {}), () => {});
    if (error instanceof TimeoutError) throw error;
    throw connectError(error, where);
  } finally {
    clearTimeout(timer);
  }
}

function connectError(error: unknown, where: string): Error {
  const reason = error instanceof Error ? error.message : String(error);
  if (/ACCESS.REFUSED/.test(reason)) {
    return new AuthenticationError(`RabbitMQ at ${where} refused the login: ${reason}`, { cause: error });
  }
  if (/ETIMEDOUT/.test(reason)) {
    return new TimeoutError(`could not connect to RabbitMQ at ${where}: ${reason}`, { cause: error });
  }
  return new ConnectionClosedError(`could not connect to RabbitMQ at ${where}: ${reason}`, { cause: error });
}

/** The URL amqplib gets: without weft's own query parameters. */
function amqplibUrl(url: URL): string {
  const stripped = new URL(url.href);
  for (const name of WEFT_QUERY_PARAMS) stripped.searchParams.delete(name);
  return stripped.href;
}

/** The URL for messages: no password, no query. */
export function describeUrl(url: URL): string {
  const shown = new URL(url.href);
  shown.password = '';
  shown.search = '';
  return shown.href.replace(/\/$/, '');
}

export function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

