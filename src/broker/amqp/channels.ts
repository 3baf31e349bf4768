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

/**
 * A channel opened on first use and opened again when the server has closed it. `prepare` (a
 * consume, say) runs once the channel is watched, so that an error it provokes cannot take the
 * connection down; if it fails, the channel is closed and get() rejects.
 */
export class ReopeningChannel<C extends Channel> {
  readonly #create: () => Promise<C>;
  readonly #prepare: ((tracked: TrackedChannel<C>) => Promise<unknown>) | undefined;
  #current: Promise<TrackedChannel<C>> | undefined;

  constructor(create: () => Promise<C>, prepare?: (tracked: TrackedChannel<C>) => Promise<unknown>) {
    this.#create = create;
    this.#prepare = prepare;
  }

  async get(): Promise<TrackedChannel<C>> {
    const current = this.#current;
    if (current) {
      const tracked = await current.catch(() => undefined);
      if (tracked?.open) return tracked;
      if (this.#current !== current) return this.get();
    }
    const next = this.#create().then(async (channel) => {
      const tracked = new TrackedChannel(channel);
      try {
        await this.#prepare?.(tracked);
      } catch (error) {
        await tracked.close();
        throw error;
      }
      return tracked;
    });
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

