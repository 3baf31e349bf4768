/**
 * How many arguments a served method can take, read from its parameter list, so that a call with
 * too many is refused with a clear error. JavaScript has no fixed arity (`fn.length` stops at the
 * first default and counts a TypeScript `options?`), so the source's parameter list is counted:
 * the text is scanned, never evaluated. Rest parameters, `arguments`, native and bound functions
 * and anything the scan cannot read mean "no limit". Fewer arguments are always allowed: missing
 * ones are `undefined`, as for a local call.
 */
const limits = new WeakMap<Function, number>();

export function maxArguments(fn: Function): number {
  let max = limits.get(fn);
  if (max === undefined) {
    max = readLimit(fn);
    limits.set(fn, max);
  }
  return max;
}

function readLimit(fn: Function): number {
  let source: string;
  try {
    source = Function.prototype.toString.call(fn);
  } catch {
    return Infinity;
  }
  if (source.includes('[native code]')) return Infinity;
  const bareArrow = /^(?:async\s+)?[A-Za-z_$][\w$]*\s*=>/.exec(source);
  if (bareArrow) return /\barguments\b/.test(source.slice(bareArrow[0].length)) ? Infinity : 1;
  const open = source.indexOf('(');
  const close = open < 0 ? -1 : matchingParen(source, open);
  if (close < 0) return Infinity;
  if (/\barguments\b/.test(source.slice(close))) return Infinity;
  const params = splitTopLevel(source.slice(open + 1, close)).map((p) => p.trim()).filter((p) => p !== '');
  return params.some((p) => p.startsWith('...')) ? Infinity : params.length;
}

/** Where the string, template or comment starting at `i` ends (its last index), or `i` for other characters. */
function skipOpaque(text: string, i: number): number {
  const c = text[i];
  if (c === '"' || c === "'" || c === '`') {
    for (let j = i + 1; j < text.length; j++) {
      if (text[j] === '\\') j++;
      else if (text[j] === c) return j;
    }
    return text.length;
  }
  if (c === '/' && text[i + 1] === '*') {
    const end = text.indexOf('*/', i + 2);
    return end < 0 ? text.length : end + 1;
  }
  if (c === '/' && text[i + 1] === '/') {
    const end = text.indexOf('\n', i);
    return end < 0 ? text.length : end;
  }
  return i;
}

/** The index of the ')' closing the '(' at `open`; -1 if none. */
function matchingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const skipped = skipOpaque(text, i);
    if (skipped !== i) {
      i = skipped;
      continue;
    }
    const c = text[i]!;
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return c === ')' ? i : -1;
    }
  }
  return -1;
}

/** Splits a parameter list at its top-level commas, comments removed. */
function splitTopLevel(params: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < params.length; i++) {
    const skipped = skipOpaque(params, i);
    const c = params[i]!;
    if (skipped !== i) {
      if (c !== '/') current += params.slice(i, skipped + 1); // keep strings, drop comments
      i = skipped;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  parts.push(current);
  return parts;
}
