/**
 * Task ids a worker was told to revoke, kept so that a revoked task that reaches this worker
 * later is dropped, not run. Bounded in count and age: the control topic is not durable, so a
 * revocation only reaches workers connected when it was sent (as Celery's, without a state db);
 * the submitter's 'cancelled' record in the result store covers the rest (a redelivered task
 * whose id has a result is never run again).
 */
const MAX_REVOKED = 100_000;
const KEEP_MS = 60 * 60 * 1000;

export class Revocations {
  /** id → when it was revoked; Map keeps insertion order, so the oldest go first. */
  readonly #revoked = new Map<string, number>();

  add(id: string): void {
    this.#revoked.delete(id);
    this.#revoked.set(id, Date.now());
    if (this.#revoked.size > MAX_REVOKED) this.#revoked.delete(this.#revoked.keys().next().value!);
  }

  has(id: string): boolean {
    const at = this.#revoked.get(id);
    if (at === undefined) return false;
    if (Date.now() - at > KEEP_MS) {
      this.#revoked.delete(id);
      return false;
    }
    return true;
  }
}
