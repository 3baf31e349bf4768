import { FrameType } from '../frame.js';

/**
 * When a REQ peer may be answered. A REQ socket (zmq_socket(3)) sends one request, then must
 * receive exactly one reply before it may send again, and a ROUTER can send it nothing unasked.
 * The gate holds what a link queued for such a peer and lets it leave as that one reply:
 *
 *   request arrives ──▶ open; the peer's CALL, GET and DESCRIBE ids join `unanswered`
 *   RESULT or ERROR queued for one of them ──▶ it leaves `unanswered`
 *   the reply leaves, while open, as soon as
 *     - no call of the peer is unanswered (the answers, or a PING when there is nothing to say), or
 *     - a queued frame needs the peer now: a call from this side (a callback), GOODBYE or FAULT, or
 *     - the held frames pass HELD_LIMIT bytes (a generator's YIELDs: the peer sends PING for more)
 *   reply sent ──▶ closed until the next request; frames queued meanwhile wait for it
 *
 * A DEALER peer (weft's own client) has no gate: frames leave as they come, in both directions.
 */
export const HELD_LIMIT = 4 * 1024 * 1024;

export class ReplyGate {
  #open = false;
  /** A queued frame the peer must see before it can go on. */
  #urgent = false;
  readonly #unanswered = new Set<number>();

  /** True while the peer waits for its reply: it cannot speak, so its silence is not a lost peer. */
  get owesReply(): boolean {
    return this.#open;
  }

  /** A request arrived. */
  request(): void {
    this.#open = true;
  }

  /** A frame of the request: a call of the peer's waits for its answer. */
  heard(type: number, id: number): void {
    if (type === FrameType.CALL || type === FrameType.GET || type === FrameType.DESCRIBE) this.#unanswered.add(id);
  }

  /** A frame was queued for the peer (header at the start of `frame`). */
  queued(frame: Buffer): void {
    const type = frame[5];
    if (type === FrameType.RESULT || type === FrameType.ERROR) this.#unanswered.delete(frame.readUInt32BE(6));
    else if (type === FrameType.CALL || type === FrameType.GET || type === FrameType.DESCRIBE || type === FrameType.GOODBYE || type === FrameType.FAULT) {
      this.#urgent = true;
    }
  }

  mayReply(heldBytes: number): boolean {
    return this.#open && (this.#unanswered.size === 0 || this.#urgent || heldBytes >= HELD_LIMIT);
  }

  replied(): void {
    this.#open = false;
    this.#urgent = false;
  }
}
