/**
 * `weft serve --module ./objects.js --port N --authkey-file F`: serves a module's exports over
 * weft's RPC protocol until SIGINT or SIGTERM. Clients call them with
 * `connect('tcp://HOST:PORT', { authkey })` (`zmq+tcp://` with --zmq).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '../remote/rpc.js';
import type { ParsedArgs } from './args.js';

export function serveHelp(): string {
  return [
    'weft serve --module FILE [--port N] [--host H] (--authkey-file F | WEFT_AUTHKEY=...)',
    '      serves the module\'s exports (its default export when that is its only one)',
    '      --port N          port to listen on; 0 picks one (default 0); the address is printed',
    '      --host H          address to bind (default 127.0.0.1; 0.0.0.0 for every interface)',
    '      --authkey-file F  file holding the shared authkey (trailing newline ignored)',
    '      --tls-key F --tls-cert F   serve TLS with this PEM key and certificate',
    '      --zmq             serve over ZeroMQ (a ROUTER socket, zmq+tcp://HOST:PORT; needs the zeromq package)',
  ].join('\n');
}

/** The authkey from --authkey-file or WEFT_AUTHKEY; a clear error when neither is set. */
export function readAuthkey(options: ParsedArgs['options']): string {
  const file = options['authkey-file'];
  if (typeof file === 'string') {
    const key = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    if (!key) throw new Error(`the authkey file ${file} is empty`);
    return key;
  }
  if (process.env.WEFT_AUTHKEY) return process.env.WEFT_AUTHKEY;
  throw new Error('an authkey is required: pass --authkey-file FILE or set WEFT_AUTHKEY');
}

/** What a module exposes: its namespace, or its default export when that is all it has. */
function exposedObject(namespace: Record<string, unknown>): object {
  const names = Object.keys(namespace);
  const only = namespace.default;
  if (names.length === 1 && typeof only === 'object' && only !== null) return only;
  return namespace;
}

export async function runServe({ options }: ParsedArgs): Promise<number> {
  if (options.help) {
    console.log(serveHelp());
    return 0;
  }
  const modulePath = options.module;
  if (typeof modulePath !== 'string') throw new Error(`--module FILE is required\n\n${serveHelp()}`);
  const listen = readListenOptions(options);
  const namespace = await import(pathToFileURL(resolve(modulePath)).href) as Record<string, unknown>;
  const expose = exposedObject(namespace);
  const server = await serve({
    ...listen,
    ...(options.zmq === true ? { transport: 'zmq' as const } : {}),
    expose,
    onError: (error) => console.error(`weft serve: ${error.message}`),
    onRefused: (report) => console.error(`weft serve: ${report.message}`), // at most one line per 10 s
  });
  console.log(`weft serve: serving ${modulePath} on ${server.url}`);
  await closeOnSignal('weft serve', server);
  return 0;
}

/** --port, --host, the authkey and --tls-key/--tls-cert, as `weft serve` and `weft broker` take them. */
export function readListenOptions(options: ParsedArgs['options']): { host: string; port: number; authkey: string; tls?: { key: Buffer; cert: Buffer } } {
  const port = options.port === undefined ? 0 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port expects a port number from 0 to 65535, got ${JSON.stringify(options.port)}`);
  const host = typeof options.host === 'string' ? options.host : '127.0.0.1';
  const authkey = readAuthkey(options);
  const tls = typeof options['tls-key'] === 'string' && typeof options['tls-cert'] === 'string'
    ? { key: readFileSync(options['tls-key']), cert: readFileSync(options['tls-cert']) }
    : undefined;
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
  });
}
