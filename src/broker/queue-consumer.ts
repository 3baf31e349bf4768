import { ProtocolError } from '../core/errors.js';
import { CONTENT_TYPE, type Delivery, type TransportConsumer } from './transport.js';
import type { Consumer, ConsumeOptions, Message, MessageHandler } from './types.js';
import { ReceivedMessage, RefusedDelivery, type ReplySender } from './received-message.js';
import { hooks } from '../observe/hooks.js';
import { TRACEPARENT_HEADER } from '../observe/traceparent.js';

export interface QueueConsumerSettings {
  queue: string;
  handler: MessageHandler;
  autoAck: boolean;
  onError: ((error: Error, message: Message) => void) | undefined;
  onRefused: ConsumeOptions['onRefused'];
  decode: (payload: Uint8Array) => unknown;
  sendReply: ReplySender;
  /** The transport writes a reply before an ack issued after it (BrokerTransport.repliesPrecedeAcks). */
  repliesPrecedeAcks: boolean;
}

/**
 * Runs a consumer's handler for each delivery. With autoAck, the handler's outcome settles the
 * message: a value is sent to replyTo (if any) and the message acked; a throw is sent to
 * replyTo as the error and the message nacked without requeue (a handler that fails the same
 * way every time must not loop forever; the server dead-letters it where one is set up).
 *
 * A delivery not marked with weft's content type (another program put it on the queue: the
 * 1-byte text `A` would decode as the number 65), or whose body does not decode, is refused:
 * never handed to the handler. onRefused gets it unsettled when given; else it is nacked
 * without requeue and reported.
 */
export class QueueConsumer implements Consumer {
  readonly queue: string;
  #settings: QueueConsumerSettings;
  #transport: TransportConsumer | undefined;
  #running = 0;
  #idle: (() => void)[] = [];
  #cancelling: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(settings: QueueConsumerSettings) {
    this.queue = settings.queue;
    this.#settings = settings;
  }

  /** Set once the transport has started delivering. */
  attach(transport: TransportConsumer): void {
    this.#transport = transport;
  }

  deliver = (delivery: Delivery): void => {
    const { queue, decode, sendReply } = this.#settings;
    if (delivery.contentType !== CONTENT_TYPE) {
      void this.#refuse(delivery, `a message on ${queue} is not a weft message (content type: ${delivery.contentType ?? 'none'}): another program put it there`);
      return;
    }
    let body: unknown;
    try {
      body = decode(delivery.payload);
    } catch (error) {
      void this.#refuse(delivery, `a message on ${queue} is not a weft message body: ${(error as Error).message}`, error);
      return;
    }
    void this.#run(new ReceivedMessage(queue, body, delivery, sendReply));
  };

  /** Hands a refused delivery to onRefused, or nacks it without requeue and reports it. */
  async #refuse(delivery: Delivery, reason: string, cause?: unknown): Promise<void> {
    const { queue, sendReply, onRefused } = this.#settings;
    const message = new ReceivedMessage(queue, undefined, delivery, sendReply);
    // Counted as running: cancel() waits until the refused message is settled too.
    this.#running++;
    try {
      if (!onRefused) {
        const error = new ProtocolError(`${reason}; it was refused (nacked without requeue: dropped, or dead-lettered where the server is set up to)`, { cause });
        this.#report(error, message, true);
        await message.nack(false);
        return;
      }
      try {
        await onRefused(new ProtocolError(`${reason}; it was refused`, { cause }), new RefusedDelivery(message, delivery.payload));
      } catch (error) {
        this.#report(error instanceof Error ? error : new Error(`onRefused threw a non-Error: ${String(error)}`), message, true);
        if (!message.settled) await message.nack(false);
      }
    } catch (failure) {
      this.#report(failure as Error, message, true);
    } finally {
      this.#finished();
    }
  }

  /** Stops deliveries without waiting for the handlers running now. */
  stop(): Promise<void> {
    this.#stopping ??= this.#transport ? this.#transport.cancel() : Promise.resolve();
    return this.#stopping;
  }

  cancel(): Promise<void> {
    this.#cancelling ??= (async () => {
      await this.stop();
      if (this.#running > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    })();
    return this.#cancelling;
  }

  /** The handler inside a CONSUMER span under the message's traceparent header (if it has one). */
  async #traced(message: ReceivedMessage<unknown>): Promise<unknown> {
    const h = hooks.current!;
    const scope = h.received(message, 'message', this.queue, message.headers[TRACEPARENT_HEADER], {
      'messaging.destination.name': this.queue, 'weft.message.redelivered': message.redelivered,
    });
    if (message.redelivered) scope.event('redelivered');
    try {
      const value = await h.within(scope, () => this.#settings.handler(message));
      scope.end();
      return value;
    } catch (error) {
      scope.end(error);
      throw error;
    }
  }

  async #run(message: ReceivedMessage<unknown>): Promise<void> {
    const { handler, autoAck } = this.#settings;
    this.#running++;
    try {
      let value: unknown;
      let failure: Error | undefined;
      try {
        value = await (hooks.current === undefined ? handler(message) : this.#traced(message));
      } catch (error) {
        failure = error instanceof Error ? error : new Error(`the handler threw a non-Error: ${String(error)}`);
      }
      if (failure) this.#report(failure, message);
      if (!autoAck) return;
      let replied: Promise<void> | undefined;
      if (message.replyTo !== undefined && !message.replied) {
        replied = message.reply(failure ?? value).catch((error: Error) => this.#report(error, message));
        // The ack must never reach the server before the reply: where the transport keeps that
        // order itself, both are issued now and leave in one write; else the ack waits.
        if (!this.#settings.repliesPrecedeAcks) await replied;
      }
      if (!message.settled) {
        await (failure ? message.nack(false) : message.ack()).catch((error: Error) => this.#report(error, message));
      }
      if (replied) await replied;
    } finally {
      this.#finished();
    }
  }

  #finished(): void {
    if (--this.#running === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  /** `alwaysWarn`: no replyTo tells the asker of a refused message, so warn even if it has one. */
  #report(error: Error, message: Message, alwaysWarn = false): void {
    const onError = this.#settings.onError;
    if (onError) {
      try {
        onError(error, message);
      } catch {
        // A failing error listener must not take the consumer down.
      }
    } else if (message.replyTo === undefined || alwaysWarn) {
      // Nobody hears about it otherwise; with a replyTo the asker gets the error.
      process.emitWarning(`weft broker: a message from ${message.queue} failed: ${error.message}`, { code: 'WEFT_BROKER_HANDLER' });
    }
  }
}
