import { ProtocolError } from '../core/errors.js';
import type { Delivery, TransportConsumer } from './transport.js';
import type { Consumer, Message, MessageHandler } from './types.js';
import { ReceivedMessage, type ReplySender } from './received-message.js';

export interface QueueConsumerSettings {
  queue: string;
  handler: MessageHandler;
  autoAck: boolean;
  onError: ((error: Error, message: Message) => void) | undefined;
  decode: (payload: Uint8Array) => unknown;
  sendReply: ReplySender;
}

/**
 * Runs a consumer's handler for each delivery. With autoAck, the handler's outcome settles the
 * message: a value is sent to replyTo (if any) and the message acked; a throw is sent to
 * replyTo as the error and the message nacked without requeue (a handler that fails the same
 * way every time must not loop forever; the server dead-letters it where one is set up). A
 * payload that is not weft's MessagePack is dropped the same way and reported, without
 * calling the handler.
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
    let body: unknown;
    try {
      body = decode(delivery.payload);
    } catch (error) {
      const message = new ReceivedMessage(queue, undefined, delivery, sendReply);
      void message.nack(false).catch(() => {});
      this.#report(new ProtocolError(`a message on ${queue} is not a weft message body; it was dropped: ${(error as Error).message}`, { cause: error }), message);
      return;
    }
    void this.#run(new ReceivedMessage(queue, body, delivery, sendReply));
  };

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

  async #run(message: ReceivedMessage<unknown>): Promise<void> {
    const { handler, autoAck } = this.#settings;
    this.#running++;
    try {
      let value: unknown;
      let failure: Error | undefined;
      try {
        value = await handler(message);
      } catch (error) {
        failure = error instanceof Error ? error : new Error(`the handler threw a non-Error: ${String(error)}`);
      }
      if (failure) this.#report(failure, message);
      if (!autoAck) return;
      if (message.replyTo !== undefined && !message.replied) {
        await message.reply(failure ?? value).catch((error: Error) => this.#report(error, message));
      }
      if (!message.settled) {
        await (failure ? message.nack(false) : message.ack()).catch((error: Error) => this.#report(error, message));
      }
    } finally {
      if (--this.#running === 0) for (const wake of this.#idle.splice(0)) wake();
    }
  }

  #report(error: Error, message: Message): void {
    const onError = this.#settings.onError;
    if (onError) {
      try {
        onError(error, message);
      } catch {
        // A failing error listener must not take the consumer down.
      }
    } else if (message.replyTo === undefined) {
      // Nobody hears about it otherwise; with a replyTo the asker gets the error.
      process.emitWarning(`weft broker: a message from ${message.queue} failed: ${error.message}`, { code: 'WEFT_BROKER_HANDLER' });
    }
  }
}
