import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary directory for marker files. */
export function tempDir(prefix = 'weft-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * How long a wait for an effect in another thread or process may take before the test fails. A
 * passing test never waits this long (the wait ends with the event); the margin is for a machine
 * loaded many times over (seen: a marker written 5 s late at a load average of 20 on 2 cores).
 */
const EFFECT_DEADLINE_MS = 15_000;

/**
 * Waits until `check()` holds, polling; fails after `timeoutMs`. Used only to observe effects in
 * other threads or processes (a marker file), never to order events.
 */
export async function until(check: () => boolean, timeoutMs = EFFECT_DEADLINE_MS, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function markerWritten(path: string, timeoutMs = EFFECT_DEADLINE_MS): Promise<string> {
  await until(() => existsSync(path), timeoutMs, `marker ${path}`);
  return readFileSync(path, 'utf8');
}

/** Resolves with the first progress value the future reports. */
export function firstProgress(future: { onProgress(cb: (value: unknown) => void): unknown }): Promise<unknown> {
  return new Promise((resolve) => future.onProgress(resolve));
}
