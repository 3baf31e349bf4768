import type { LevelledLog } from '../cluster/retry-report.js';
import { logger, type LogFields } from '../log.js';

/**
 * Where a worker's own lines go. A `log` option (the CLI's, which adds its prefix and filters)
 * takes them with their level; without one they go to weft's logger with a level and the
 * worker's name as a field, so a library user sees reconnects and losses through `setLogger()`.
 */
export function diagnostics(log: LevelledLog | undefined, base: LogFields): LevelledLog {
  if (log) return log;
  return (line, level = 'info') => logger()[level](line, base);
}
