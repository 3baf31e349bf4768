import { createRequire, register } from 'node:module';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Loaders reaching worker threads. Node 20 does not run the caller's `--import` / `--loader`
 * hooks (tsx, ts-node/esm, ...) in worker threads, so TypeScript task modules fail there
 * (Piscina's users meet this as "Unknown file extension .ts"). The pool resolves those
 * specifiers here, against the caller's working directory, and the worker imports each one
 * first; a module that exports resolve/load hooks is registered in the worker too.
 */
export function preloadsFrom(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const match = /^--(import|loader|experimental-loader)(?:=(.*))?$/.exec(arg);
    if (!match) continue;
    const spec = match[2] ?? execArgv[++i];
    if (spec) out.push(resolveSpecifier(spec));
  }
  return out;
}

function resolveSpecifier(spec: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec)) return spec; // already a URL
  if (isAbsolute(spec)) return pathToFileURL(spec).href;
  try {
    return pathToFileURL(createRequire(join(process.cwd(), 'noop.js')).resolve(spec)).href;
  } catch {
    return spec; // let the worker report it
  }
}

/** Worker side: runs the caller's preloads in this thread before any task module loads. */
export async function runPreloads(urls: readonly string[]): Promise<void> {
  for (const url of urls) {
    // tsx registers its hooks only on the main thread when imported; its API does it here.
    const tsx = /\/tsx\/dist\/(?:loader|esm\/index)\.mjs$/.exec(url);
    if (tsx) {
      const api = await import(new URL('esm/api/index.mjs', url.slice(0, url.indexOf('/dist/') + 6)).href) as { register(): unknown };
      api.register();
      continue;
    }
    const module = await import(url) as { resolve?: unknown; load?: unknown };
    if (typeof module.resolve === 'function' || typeof module.load === 'function') register(url);
  }
}
