import { WeftError } from '../core/errors.js';

/**
 * Errors of the synchronisation primitives. They extend weft's tree with the same stable
 * `name`/`code` convention, so that a child process gets the same class back through the
 * object channel (see object-channel.ts, which revives them by code).
 */

/** A Queue or Pipe end was closed: nothing more will come (get/recv), or nothing more may go (put/send). */
export class ClosedError extends WeftError {
  override readonly code = 'weft:closed';
}

/** A Barrier was aborted or reset, or a wait on it timed out, while parties were waiting. */
export class BrokenBarrierError extends WeftError {
  override readonly code = 'weft:broken-barrier';
  constructor(message = 'the barrier is broken', options?: ErrorOptions) {
    super(message, options);
  }
}
