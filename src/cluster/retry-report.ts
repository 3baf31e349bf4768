/**
 * What a worker says about a server it cannot reach: the first failure once (a warning, with the
 * reason and that it keeps trying), each later attempt only at debug level, and one line when it
 * gets through again. A worker whose scheduler is gone for a night writes two lines, not one
 * every 5 s.
 *
 *   attempt fails ──► failed(error) ──► 1st: warn "cannot reach X: ...; retrying (every ≤5 s)"
 *                                        later: debug "still cannot reach X (attempt n)"
 *   attempt works ──► succeeded()  ──► after failures: info "reached X again after n attempts"
 */
import type { LogLevel } from '../log.js';

export type LevelledLog = (line: string, level?: LogLevel) => void;

export class RetryReport {
  #failures = 0;
  #since = 0;

  /** `verb`: what failed ("reach", "use"); `target`: the server, credentials already removed. */
  constructor(private readonly verb: string, private readonly target: string, private readonly maxDelay: number, private readonly log: LevelledLog) {}

  failed(error: Error): void {
    this.#failures++;
    if (this.#failures === 1) {
      this.#since = Date.now();
      this.log(`cannot ${this.verb} ${this.target}: ${error.message}; retrying with backoff (at most every ${formatMs(this.maxDelay)}), quiet until it succeeds`, 'warn');
    } else {
      this.log(`still cannot ${this.verb} ${this.target} (attempt ${this.#failures}): ${error.message}`, 'debug');
    }
  }

  succeeded(): void {
    if (this.#failures === 0) return;
    this.log(`reached ${this.target} again after ${this.#failures} failed attempt(s) over ${formatMs(Date.now() - this.#since)}`, 'info');
    this.#failures = 0;
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}
