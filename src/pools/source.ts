/**
 * Plain functions travel to workers as source text and are compiled there once per worker.
 * They must be self-contained: closures over the caller's variables do not travel.
 */

/** Parent side: the source to send, or a TypeError when `fn` cannot travel. */
export function functionSource(fn: (...args: any[]) => unknown): string {
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}$/.test(source)) {
    throw new TypeError(`Expected \`task\` to be a task from defineTasks() or a self-contained function, got ${fn.name ? `the native or bound function ${fn.name}` : 'a native or bound function'}, whose source cannot be sent to a worker`);
  }
  return source;
}

/** Worker side: turns source text back into a function (method shorthand included). */
export function compileSource(source: string): (...args: any[]) => unknown {
  for (const candidate of candidates(source)) {
    let fn: unknown;
    try {
      fn = new Function(`return (${candidate});`)();
    } catch (error) {
      if (error instanceof SyntaxError) continue;
      throw error;
    }
    if (typeof fn === 'function') return withScopeHint(fn as (...args: any[]) => unknown);
  }
  throw new SyntaxError(`the function source sent to the worker does not compile: ${source.slice(0, 80)}`);
}

/** `f() {}`, `async f() {}`, `*f() {}` and `async *f() {}` are methods, not expressions. */
function candidates(source: string): string[] {
  const out = [source];
  const async = /^async\s+/.exec(source);
  const rest = async ? source.slice(async[0].length) : source;
  out.push(`${async ? 'async ' : ''}function ${rest.startsWith('*') ? `*${rest.slice(1)}` : rest}`);
  return out;
}

/** What a ReferenceError from a shipped function most likely means, and what to do instead. */
export const SOURCE_HINT = 'a plain function travels to the worker as its source text, so it cannot use variables from the scope it was written in: pass them as arguments, or define the task in a module with defineTasks(import.meta.url, { ... })';

/**
 * `(x) => x * z` with `z` from the caller's scope fails in the worker with "z is not defined",
 * which reads like a bug in weft. A ReferenceError thrown by the function (or its promise) gets
 * the reason appended. Generators are left as they are: their errors surface while iterating.
 */
function withScopeHint(fn: (...args: any[]) => unknown): (...args: any[]) => unknown {
  const kind = Object.getPrototypeOf(fn)?.constructor?.name;
  if (kind === 'GeneratorFunction' || kind === 'AsyncGeneratorFunction') return fn;
  return function (this: unknown, ...args: unknown[]): unknown {
    let out: unknown;
    try {
      out = fn.apply(this, args);
    } catch (error) {
      throw hinted(error);
    }
    if (out instanceof Promise) return out.catch((error: unknown) => { throw hinted(error); });
    return out;
  };
}

function hinted(error: unknown): unknown {
  if (error instanceof ReferenceError && !error.message.includes(SOURCE_HINT)) error.message = `${error.message} (${SOURCE_HINT})`;
  return error;
}
