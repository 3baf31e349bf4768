import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary directory for marker files. */
export function tempDir(prefix = 'weft-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Waits until `check()` holds, polling; fails after `timeoutMs`. Used only to observe effects in
 * other threads or processes (a marker file), never to order events.
 */
export async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function markerWritten(path: string, timeoutMs = 5000): Promise<string> {
  await until(() => existsSync(path), timeoutMs, `marker ${path}`);
  return readFileSync(path, 'utf8');
}

/** Resolves with the first progress value the future reports. */
export function firstProgress(future: { onProgress(cb: (value: unknown) => void): unknown }): Promise<unknown> {
  return new Promise((resolve) => future.onProgress(resolve));
}
