import type { Message } from '../../broker/types.js';

/**
 * One broker message as the worker holds it: a single task, or a batch of several. It is
 * settled once, after the last of its tasks closed (acks late, for a batch as for one task):
 *
 *   every task closed ─▶ ack
 *   a task could not be settled (its store or reply failed) ─▶ once all are closed: nack,
 *      requeue; the next delivery re-runs only the tasks with no stored outcome
 */
export class Parcel {
  readonly message: Message<unknown>;
  /** True for a BatchMessage: its outcomes go back as RESULTS replies. */
  readonly batched: boolean;
  #open: number;
  #failed = false;

  constructor(message: Message<unknown>, tasks: number, batched: boolean) {
    this.message = message;
    this.#open = tasks;
    this.batched = batched;
  }

  /** True while some task of it is not closed. */
  get open(): boolean {
    return this.#open > 0;
  }

  /**
   * One task is done with (its outcome stored and sent, or retried, revoked, given up): the
   * message's settle once it was the last, else nothing to wait for. Once per task.
   */
  close(task: { closed?: boolean }): Promise<void> | undefined {
    if (task.closed) return undefined; // closed before (its ack failed, and it is given back now)
    task.closed = true;
    if (--this.#open > 0) return undefined;
    return this.#failed ? this.message.nack(true) : this.message.ack();
  }

  /**
   * A task closed already turned out not to be settled after all (its reply was lost with the
   * connection): the message goes back to its queue instead of being acknowledged. Where its
   * ack left already, it left on the same connection after that reply, and failed with it.
   */
  markFailed(): void {
    this.#failed = true;
  }

  /** One task could not be settled: the message goes back to its queue when the rest are closed. */
  fail(task: { closed?: boolean }): Promise<void> | undefined {
    if (task.closed) return undefined;
    this.#failed = true;
    return this.close(task);
  }
}
