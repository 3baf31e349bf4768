/** What `weft serve` and `weft broker` share: where to listen, the authkey, TLS, and stopping on a signal. */
import { existsSync, readFileSync } from 'node:fs';
import { intValue, stringValue, UsageError, type CommandSpec, type Values } from './command.js';

/** The flags `weft serve` and `weft broker` share. */
export const LISTEN_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'authkey-file': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-cert': { type: 'string' },
} as const;

/** The authkey from --authkey-file or WEFT_AUTHKEY; a clear error when neither is set. */
export function readAuthkey(values: Values, usage?: () => string): string {
  const file = stringValue(values, 'authkey-file');
  if (file !== undefined) {
    if (!existsSync(file)) throw new UsageError(`--authkey-file: no such file ${file}`, usage?.() ?? '');
    const key = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    if (!key) throw new UsageError(`the authkey file ${file} is empty`, usage?.() ?? '');
    return key;
  }
  if (process.env.WEFT_AUTHKEY) return process.env.WEFT_AUTHKEY;
  throw new UsageError('an authkey is required: pass --authkey-file FILE or set WEFT_AUTHKEY', usage?.() ?? '');
}

/** --port, --host, the authkey and --tls-key/--tls-cert, as `weft serve` and `weft broker` take them. */
export function readListenOptions(command: CommandSpec, values: Values): { host: string; port: number; authkey: string; tls?: { key: Buffer; cert: Buffer } } {
  const port = intValue(command, values, 'port', { min: 0, max: 65535, fallback: 0 })!;
  const host = stringValue(values, 'host') ?? '127.0.0.1';
  const key = stringValue(values, 'tls-key');
  const cert = stringValue(values, 'tls-cert');
  if ((key === undefined) !== (cert === undefined)) throw new UsageError('--tls-key and --tls-cert go together: give both or neither', command.usage());
  for (const file of [key, cert]) if (file !== undefined && !existsSync(file)) throw new UsageError(`no such file ${file}`, command.usage());
  const authkey = readAuthkey(values, command.usage);
  const tls = key !== undefined && cert !== undefined ? { key: readFileSync(key), cert: readFileSync(cert) } : undefined;
  return { host, port, authkey, tls };
}

/** Runs until SIGINT or SIGTERM, then closes `server`. */
export function closeOnSignal(command: string, server: { close(): Promise<void> }): Promise<void> {
  return new Promise<void>((done) => {
    const stop = (signal: string) => {
      console.log(`${command}: ${signal}, closing`);
      void server.close().then(done);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // Started by a program with an IPC channel (fork, or spawn with 'ipc'): it never outlives
    // that program, however it ended (a SIGKILLed benchmark or test left servers running).
    // The channel itself must not keep this process alive once the server has closed.
    if (process.channel) {
      process.channel.unref();
      process.once('disconnect', () => stop('the parent process is gone'));
    }
  });
}
