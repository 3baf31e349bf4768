/**
 * Runs `weft broker` in a child process for `weft bench broker`, so that weft's own broker is
 * measured as the other servers are: in a process of its own, over loopback.
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
  const child: ChildProcess = spawn(process.execPath, [cli, 'broker', '--port', '0'], {
    env: { ...process.env, WEFT_AUTHKEY: authkey },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`weft broker did not start within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on tcp:\/\/(\S+?:\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`weft broker exited with code ${code} before listening`));
    });
  }).catch((error: Error) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    url: `weft://:${authkey}@${address}`,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
