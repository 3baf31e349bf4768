import { WeftError } from '../core/errors.js';

/** No connected worker offers the task (or, for a plain function, accepts functions by source). */
export class UnknownTaskError extends WeftError {
  override readonly code = 'weft:unknown-task';
  constructor(message: string, readonly taskName: string) {
    super(message);
  }
}
