/** amqplib channels as the AMQP adapter uses them: watched, and reopened where the server closed one. */
import type { Channel } from 'amqplib';

/** Watches one channel: whether it is still open, and why the server closed it. */
export class TrackedChannel<C extends Channel> {
  readonly channel: C;
  #open = true;
  #serverError: Error | undefined;

  constructor(channel: C, onClose?: (serverError: Error | undefined) => void) {
    this.channel = channel;
    // Without an 'error' listener amqplib's emit throws inside its socket handler and takes the connection down.
    channel.on('error', (error: Error) => {
      this.#serverError = error;
    });
    channel.on('close', () => {
      this.#open = false;
      onClose?.(this.#serverError);
    });
  }

  get open(): boolean {
    return this.#open;
  }

  /** Why this channel is unusable, for errors. */
  get closedReason(): string {
    return this.#serverError ? `the server closed the channel: ${this.#serverError.message}` : 'the channel is closed';
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    await this.channel.close().catch(() => {});
  }
}

/** A channel opened on first use and opened again when the server has closed it. */
export class ReopeningChannel<C extends Channel> {
  readonly #create: () => Promise<C>;
  #current: Promise<TrackedChannel<C>> | undefined;

  constructor(create: () => Promise<C>) {
    this.#create = create;
  }

  async get(): Promise<TrackedChannel<C>> {
    const current = this.#current;
    if (current) {
      const tracked = await current.catch(() => undefined);
      if (tracked?.open) return tracked;
      if (this.#current !== current) return this.get();
    }
    const next = this.#create().then((channel) => new TrackedChannel(channel));
    this.#current = next;
    next.catch(() => {
      if (this.#current === next) this.#current = undefined;
    });
    return next;
  }

  async close(): Promise<void> {
    const tracked = await this.#current?.catch(() => undefined);
    await tracked?.close();
  }
}

