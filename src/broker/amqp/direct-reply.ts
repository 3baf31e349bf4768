/**
 * Requests answered through RabbitMQ's direct reply-to: the answer goes from the responder's
 * channel straight to this channel, without a reply queue on the server.
 *
 *   publish(queue, replyTo = one of our inboxes, correlationId)
 *     └─ DirectReplyChannel of that inbox ── basic.publish(replyTo = amq.rabbitmq.reply-to) ──▶ queue
 *   responder reply(amq.rabbitmq.reply-to.<token>) ──▶ this channel's no-ack consumer ──▶ the inbox's onReply
 *
 * RabbitMQ only routes direct replies to the channel that published the request and consumes
 * the pseudo-queue, so each inbox that asks gets one such channel: a confirm channel, so that
 * publish() still resolves only once the server has the request. The inbox's own queue stays
 * what other clients send() to; the direct address exists only inside a request's replyTo.
 */
import type { ConfirmChannel, ChannelModel, Options } from 'amqplib';
import { ReopeningChannel, type TrackedChannel } from './channels.js';
import { deliverSafely, toBytes } from './consumer.js';
import type { PayloadListener } from '../transport.js';

/** RabbitMQ's pseudo-queue; the server rewrites it in the request into this channel's own address. */
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

export class DirectReplyChannel {
  readonly #channel: ReopeningChannel<ConfirmChannel>;
  #closed = false;

  constructor(model: ChannelModel, onReply: PayloadListener<[correlationId: string | undefined]>) {
    this.#channel = new ReopeningChannel(() => model.createConfirmChannel(), (tracked) =>
      // No-ack is the only mode RabbitMQ allows on the pseudo-queue; an answer is not redelivered anyway.
      tracked.channel.consume(DIRECT_REPLY_TO, (msg) => {
        if (msg && !this.#closed) {
          deliverSafely(() => onReply(toBytes(msg.content), msg.properties.contentType ?? undefined, msg.properties.correlationId ?? undefined));
        }
      }, { noAck: true }));
  }

  /** The open channel, consuming its direct replies; opened again if the server closed it. */
  get(): Promise<TrackedChannel<ConfirmChannel>> {
    return this.#channel.get();
  }

  /** Publishes a request whose answer comes back here; `done` hears the server's confirm. */
  publish(tracked: TrackedChannel<ConfirmChannel>, queue: string, content: Buffer, options: Options.Publish, done: (error: unknown) => void): void {
    tracked.channel.publish('', queue, content, { ...options, replyTo: DIRECT_REPLY_TO }, done);
  }

  close(): Promise<void> {
    this.#closed = true;
    return this.#channel.close();
  }
}
