// Runs the `weft` command to its exit, collecting what it printed: the CLI tests' one runner.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { CLI } from '../cluster/helpers.js';

export interface WeftRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface WeftRunOptions {
  env?: NodeJS.ProcessEnv;
  /** Node flags before the CLI (e.g. `--import` of a hook). */
  nodeArgs?: string[];
  /** Killed after this long (its status is then null). @default 20000 */
  timeout?: number;
}

export async function runWeft(args: string[], options: WeftRunOptions = {}): Promise<WeftRun> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], {
    env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeout ?? 20_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk; });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk; });
  const [status] = await once(child, 'close') as [number | null];
  return { status, stdout, stderr };
}
