import { ProtocolError } from '../core/errors.js';
import { CONTENT_TYPE } from './transport.js';

/**
 * Hands bodies that arrive outside queues (an inbox's, a topic's) to a user's handler. Nothing
 * here is settled, so nothing is retried: a payload not marked as weft's (another program's),
 * one that does not decode, a handler that throws
 * or whose promise rejects, is reported to `onError` (else a process warning) and never thrown
 * into the transport's callback, which must go on serving the connection.
 */
export class BodyListener<Extra extends unknown[]> {
  readonly #where: string;
  readonly #decode: (payload: Uint8Array) => unknown;
  readonly #handler: (body: unknown, ...extra: Extra) => unknown;
  readonly #onError: ((error: Error) => void) | undefined;
  #active = true;

  constructor(
    where: string,
    decode: (payload: Uint8Array) => unknown,
    handler: (body: unknown, ...extra: Extra) => unknown,
    onError: ((error: Error) => void) | undefined,
  ) {
    this.#where = where;
    this.#decode = decode;
    this.#handler = handler;
    this.#onError = onError;
  }

  /** For the transport's callback: never throws. */
  receive = (payload: Uint8Array, contentType: string | undefined, ...extra: Extra): void => {
    if (!this.#active) return;
    if (contentType !== CONTENT_TYPE) {
      this.report(new ProtocolError(`a body sent to ${this.#where} is not a weft message (content type: ${contentType ?? 'none'}); it was dropped`));
      return;
    }
    let body: unknown;
    try {
      body = this.#decode(payload);
    } catch (error) {
      this.report(new ProtocolError(`a body sent to ${this.#where} is not a weft message body; it was dropped: ${(error as Error).message}`, { cause: error }));
      return;
    }
    try {
      const result = this.#handler(body, ...extra);
      if (isThenable(result)) result.then(undefined, (error: unknown) => this.report(asError(error)));
    } catch (error) {
      this.report(asError(error));
    }
  };

  /** Nothing more reaches the handler (a body already on its way is dropped). */
  stop(): void {
    this.#active = false;
  }

  report(error: Error): void {
    if (this.#onError) {
      try {
        this.#onError(error);
      } catch {
        // A failing error listener must not take the connection's callback down.
      }
    } else {
      process.emitWarning(`weft broker: ${this.#where}: ${error.message}`, { code: 'WEFT_BROKER_LISTENER' });
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(`the handler threw a non-Error: ${String(error)}`);
}
