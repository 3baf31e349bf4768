/**
 * weft's own diagnostics (a worker lost, a reconnect, a dropped result, a dead letter) go
 * through one replaceable logger, never straight to the console.
 *
 *   weft code ── logger().warn(msg, fields) ──▶ the current Logger
 *                                                 ├─ default: consoleLogger() (stderr, timestamped)
 *                                                 └─ setLogger(pino() | your object | silentLogger)
 *
 * The Logger shape is pino's (`logger.warn(obj, msg)` is not used: weft always passes the message
 * first and the fields second, which pino also accepts as `(msg, ...args)` only for strings, so
 * an adapter `{ warn: (msg, fields) => pino.warn(fields ?? {}, msg) }` is what a pino user writes;
 * `pinoLogger(pino)` does exactly that).
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface ConsoleLoggerOptions {
  /** Messages below this level are dropped. Default 'info'. */
  level?: LogLevel;
  /** 'text': `2026-12-05T07:50:01.123Z WARN message key=value`; 'json': one object per line. Default 'text'. */
  format?: 'text' | 'json';
  /** Where lines go. Default process.stderr. */
  write?: (line: string) => void;
  /** Fields added to every line (a worker's name, say). */
  base?: LogFields;
}

/** A logger writing timestamped lines with a level to stderr (or `write`). */
export function consoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (!LOG_LEVELS.includes(level)) throw new TypeError(`log level must be one of ${LOG_LEVELS.join(', ')}, not ${String(level)}`);
  const format = options.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new TypeError(`log format must be text or json, not ${String(format)}`);
  const write = options.write ?? ((line: string) => void process.stderr.write(line + '\n'));
  const base = options.base ?? {};
  const threshold = LOG_LEVELS.indexOf(level);
  const emit = (at: LogLevel) => (message: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(at) < threshold) return;
    const time = new Date().toISOString();
    const all = { ...base, ...fields };
    if (format === 'json') {
      write(JSON.stringify({ time, level: at, msg: message, ...all }, jsonSafe));
      return;
    }
    const pairs = Object.entries(all).map(([key, value]) => `${key}=${textOf(value)}`);
    write([time, at.toUpperCase().padEnd(5), message, ...pairs].join(' '));
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

function textOf(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /\s|"/.test(value) ? JSON.stringify(value) : value;
  return String(value);
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

const noop = () => undefined;
/** Drops everything. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** Adapts a pino logger (fields first, message second) to weft's Logger. */
export function pinoLogger(pino: { [K in LogLevel]: (fields: object, message: string) => void }): Logger {
  return {
    debug: (message, fields) => pino.debug(fields ?? {}, message),
    info: (message, fields) => pino.info(fields ?? {}, message),
    warn: (message, fields) => pino.warn(fields ?? {}, message),
    error: (message, fields) => pino.error(fields ?? {}, message),
  };
}

let current: Logger | undefined;

/** Replaces weft's logger in this thread or process; `undefined` restores the default. */
export function setLogger(next: Logger | undefined): void {
  if (next !== undefined) {
    for (const at of LOG_LEVELS) {
      if (typeof next[at] !== 'function') throw new TypeError(`a logger needs ${LOG_LEVELS.join(', ')} methods; ${at} is missing`);
    }
  }
  current = next;
}

/** The logger weft's diagnostics go to now (a timestamped stderr logger at 'info' unless replaced). */
export function logger(): Logger {
  return (current ??= consoleLogger());
}
