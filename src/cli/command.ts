/**
 * How every `weft` command reads its command line: `node:util` parseArgs in strict mode, so an
 * unknown flag, a flag without its value or a bad value stops the command at once with one line
 * saying what was wrong and that command's usage (exit code 2), before anything starts.
 *
 *   argv ──► parseCommand(spec) ──► { values, positionals } ──► the command's own checks
 *              │ unknown / missing / bad                          │ intValue, oneOf, ...
 *              └──────────────── UsageError ◄─────────────────────┘
 *                                   └─► main.ts: "weft serve: <reason>" + usage, exit 2
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { consoleLogger, LOG_LEVELS, setLogger, type LogLevel } from '../log.js';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** A command line the command cannot run: main.ts prints the message and the usage, exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(message: string, readonly usage: string) {
    super(message);
  }
}

export interface CommandSpec {
  /** `weft serve`: the start of every error line. */
  name: string;
  /** What `--help` prints (and what follows a usage error). */
  usage: () => string;
  options: OptionSpecs;
  /** How many positionals it takes (default none). */
  positionals?: number;
}

export interface Parsed {
  values: Values;
  positionals: string[];
  help: boolean;
}

/** `--help`/`-h` are added to every command; the caller prints the usage when `help` is set. */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: (spec.positionals ?? 0) > 0,
    }) as { values: Values; positionals: string[] };
  } catch (error) {
    // Node's messages are right; some run over several lines, kept here on one.
    let message = (error as Error).message.split('\n').join(' ');
    const unknown = /^Unknown option '--([^'=]+)'/.exec(message)?.[1];
    const near = unknown === undefined ? undefined : nearest(unknown, [...Object.keys(spec.options), 'help']);
    if (near !== undefined) message = message.replace(/\. To specify a positional argument.*$/, '') + ` (did you mean --${near}?)`;
    throw new UsageError(message.replace(/^Unexpected argument/, 'unexpected argument'), spec.usage());
  }
  const help = parsed.values.help === true;
  if (!help && parsed.positionals.length > (spec.positionals ?? 0)) {
    throw new UsageError(`unexpected argument '${parsed.positionals[spec.positionals ?? 0]}'`, spec.usage());
  }
  return { values: parsed.values, positionals: parsed.positionals, help };
}

/** The known option closest to a mistyped one (`worker` → `workers`), if one is close. */
function nearest(name: string, known: string[]): string | undefined {
  let best: { option: string; distance: number } | undefined;
  for (const option of known) {
    const distance = editDistance(name, option);
    if (distance <= Math.max(1, Math.floor(option.length / 4)) && (!best || distance < best.distance)) best = { option, distance };
  }
  return best?.option;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** The string value of option `name`, if given. */
export function stringValue(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** An integer option within [min, max], or `fallback`; a UsageError naming the flag otherwise. */
export function intValue(spec: CommandSpec, values: Values, name: string, { min = 1, max = Number.MAX_SAFE_INTEGER, fallback }: { min?: number; max?: number; fallback?: number } = {}): number | undefined {
  const raw = stringValue(values, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? (min === 1 ? 'a positive integer' : `an integer of at least ${min}`) : `an integer from ${min} to ${max}`;
    throw new UsageError(`--${name} expects ${range}, got ${JSON.stringify(raw)}`, spec.usage());
  }
  return value;
}

/** One of `choices`, or `fallback`. */
export function oneOf<T extends string>(spec: CommandSpec, values: Values, name: string, choices: readonly T[], fallback: T): T {
  const raw = stringValue(values, name);
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`--${name} expects one of ${choices.join(', ')}, got ${JSON.stringify(raw)}`, spec.usage());
  return raw as T;
}

/** A comma-separated list (`--queues a,b`), empty entries dropped. */
export function listValue(values: Values, name: string): string[] | undefined {
  const raw = stringValue(values, name);
  return raw === undefined ? undefined : raw.split(',').map((item) => item.trim()).filter(Boolean);
}

/** Throws the usage error for a required option that is missing. */
export function required(spec: CommandSpec, values: Values, name: string, what: string): string {
  const value = stringValue(values, name);
  if (value === undefined) throw new UsageError(`${what} is required`, spec.usage());
  return value;
}

/** --log-level and --log-format, as the long-running commands (worker, broker, serve) take them. */
export const LOG_OPTIONS: OptionSpecs = {
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
};

export const LOG_USAGE = `      --log-level L     ${LOG_LEVELS.join(' | ')} (default info); --log-format text | json (default text)`;

/**
 * Installs the command's logger: timestamped lines with a level on stderr (stdout keeps what the
 * command reports: the address it listens on, the tables), text for people or one JSON object
 * per line for machines.
 */
export function installLogger(spec: CommandSpec, values: Values): void {
  const level = oneOf<LogLevel>(spec, values, 'log-level', LOG_LEVELS, 'info');
  const format = oneOf(spec, values, 'log-format', ['text', 'json'] as const, 'text');
  setLogger(consoleLogger({ level, format }));
}
