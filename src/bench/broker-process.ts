/**
 * Runs `weft broker` (and fauxqs, an SQS emulator) in a child process for `weft bench broker`,
 * so that they are measured as the other servers are: in a process of their own, over loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export interface BrokerProcess {
  /** The weft:// URL to open it with, authkey included. */
  url: string;
  stop(): Promise<void>;
}

export async function startBrokerProcess(timeoutMs = 10_000): Promise<BrokerProcess> {
  const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const authkey = randomBytes(16).toString('hex');
  const child = spawnServer([cli, 'broker', '--port', '0'], { WEFT_AUTHKEY: authkey }, 'inherit');
  const [, address] = await listening(child, 'weft broker', /listening on tcp:\/\/(\S+?:\d+)/, timeoutMs);
  return { url: `weft://:${authkey}@${address}`, stop: () => stop(child) };
}

/** fauxqs, an SQS emulator (not Amazon SQS), on a free port; its sqs:// URL. */
export async function startFauxqsProcess(timeoutMs = 10_000): Promise<BrokerProcess> {
  const script = fileURLToPath(new URL('./fauxqs-child.js', import.meta.url));
  const child = spawnServer([script], {}, 'pipe');
  const [, port] = await listening(child, 'fauxqs', /fauxqs listening on (\d+)/, timeoutMs);
  return { url: `sqs://127.0.0.1:${port}/weft-bench-`, stop: () => stop(child) };
}

/**
 * `stderr`: 'pipe' to quote it when the server fails to start. The IPC channel is only there
 * to close when this process ends, however it ends: the server then exits (no orphans).
 */
function spawnServer(args: string[], env: Record<string, string>, stderr: 'inherit' | 'pipe'): ChildProcess {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', stderr, 'ipc'] });
  child.channel?.unref();
  return child;
}

/** The match of `pattern` in the child's output; rejects (and kills it) if it exits or takes longer. */
async function listening(child: ChildProcess, name: string, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-2000)));
  return new Promise<RegExpExecArray>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = pattern.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before listening${errors ? `: ${errors.trim()}` : ''}`));
    });
  }).catch((error: Error) => {
    child.kill('SIGKILL');
    throw error;
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
