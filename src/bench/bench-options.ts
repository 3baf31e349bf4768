/**
 * How the bench modes read their values (the strict parser has already refused unknown flags):
 * numbers and lists with one exact error each, a BenchOptionError that `weft bench` turns into a
 * usage error (exit 2) with the mode's usage.
 */

/** The parsed flags of one `weft bench` command line. */
export type BenchArgs = Record<string, string | boolean | undefined>;

/** A value the mode cannot run with: `weft bench` prints it with the mode's usage (exit 2). */
export class BenchOptionError extends TypeError {
  override name = 'BenchOptionError';
}

/** A number option checked by `valid`, or the default; BenchOptionError naming the flag otherwise. */
function numeric(args: BenchArgs, name: string, fallback: number, valid: (value: number) => boolean, expected: string): number {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !valid(value)) throw new BenchOptionError(`--${name} expects ${expected}, got ${JSON.stringify(raw)}`);
  return value;
}

/** A positive integer option, or the default. */
export function intOption(args: BenchArgs, name: string, fallback: number): number {
  return numeric(args, name, fallback, (v) => Number.isInteger(v) && v > 0, 'a positive integer');
}

/** A non-negative integer option (0 allowed), or the default. */
export function countOption(args: BenchArgs, name: string, fallback: number): number {
  return numeric(args, name, fallback, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
}

/** A positive number option (fractions allowed, e.g. `--megabytes 0.2`), or the default. */
export function numberOption(args: BenchArgs, name: string, fallback: number): number {
  return numeric(args, name, fallback, (v) => Number.isFinite(v) && v > 0, 'a positive number');
}

/** A comma-separated list option; given but empty (`--executors ,`) is an error. */
export function listOption(args: BenchArgs, name: string, fallback: string[]): string[] {
  const raw = args[name];
  if (raw === undefined || typeof raw !== 'string') return fallback;
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new BenchOptionError(`--${name} expects a comma-separated list, got ${JSON.stringify(raw)}`);
  return list;
}

