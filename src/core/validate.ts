/**
 * Option checks shared by every constructor. Messages say what was expected and what came:
 * "Expected `size` to be a positive integer or Infinity, got 0 (number)".
 */

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function ${value.name || '(anonymous)'}`;
  if (typeof value === 'string') return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} (string)`;
  if (typeof value === 'object') return `${Array.isArray(value) ? 'an array' : `an object ${value.constructor?.name ?? ''}`.trim()}`;
  return `${String(value)} (${typeof value})`;
}

export function expected(name: string, what: string, value: unknown): string {
  return `Expected \`${name}\` to be ${what}, got ${describe(value)}`;
}

/** A positive integer, or Infinity when `allowInfinity`. */
export function checkPositiveInteger(name: string, value: unknown, allowInfinity = false): number {
  if (typeof value !== 'number' || !(Number.isInteger(value) && value > 0 || allowInfinity && value === Infinity)) {
    const what = allowInfinity ? 'a positive integer or Infinity' : 'a positive integer';
    throw (typeof value === 'number' ? new RangeError(expected(name, what, value)) : new TypeError(expected(name, what, value)));
  }
  return value;
}

export function checkNonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    const what = 'a non-negative integer';
    throw (typeof value === 'number' ? new RangeError(expected(name, what, value)) : new TypeError(expected(name, what, value)));
  }
  return value;
}

/** A duration in milliseconds: finite and >= 0. */
export function checkMilliseconds(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    const what = 'a non-negative finite number of milliseconds';
    throw (typeof value === 'number' ? new RangeError(expected(name, what, value)) : new TypeError(expected(name, what, value)));
  }
  return value;
}

export function checkSignal(name: string, value: unknown): AbortSignal {
  if (!(value instanceof AbortSignal)) throw new TypeError(expected(name, 'an AbortSignal', value));
  return value;
}

export function checkFiniteNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(expected(name, 'a finite number', value));
  return value;
}

/**
 * JavaScript callers get no type check: `new ThreadPool({ worker: 2 })` would quietly run with
 * the default. An option name the constructor does not know is a TypeError naming the known ones.
 * `known` is a Record over every key of the options type, so adding an option without listing it
 * here fails to compile.
 */
export function checkKnownOptions<T extends object>(what: string, options: T, known: Record<keyof T, true>): T {
  if (typeof options !== 'object' || options === null) return options;
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(known, key)) {
      const names = Object.keys(known);
      const near = names.find((name) => name.toLowerCase().startsWith(key.toLowerCase()) || key.toLowerCase().startsWith(name.toLowerCase()));
      throw new TypeError(`${what} has no option \`${key}\`${near ? ` (did you mean \`${near}\`?)` : ''}; its options are ${names.map((n) => `\`${n}\``).join(', ')}`);
    }
  }
  return options;
}
