/**
 * `weft serve --module ./objects.js --port N --authkey-file F`: serves a module's exports over
 * weft's RPC protocol until SIGINT or SIGTERM. Clients call them with
 * `connect('tcp://HOST:PORT', { authkey })` (`zmq+tcp://` with --zmq).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { logger } from '../log.js';
import { installLogger, LOG_OPTIONS, LOG_USAGE, parseCommand, required, UsageError, type CommandSpec } from './command.js';
import { closeOnSignal, LISTEN_OPTIONS, readListenOptions } from './listen.js';

export function serveHelp(): string {
  return [
    'usage: weft serve --module FILE [--port N] [--host H] (--authkey-file F | WEFT_AUTHKEY=...)',
    '      serves the module\'s exports (its default export when that is its only one)',
    '      --module FILE     the module whose exports are served (required)',
    '      --port N          port to listen on; 0 picks one (default 0); the address is printed',
    '      --host H          address to bind (default 127.0.0.1; 0.0.0.0 for every interface)',
    '      --authkey-file F  file holding the shared authkey (trailing newline ignored)',
    '      --tls-key F --tls-cert F   serve TLS with this PEM key and certificate',
    '      --zmq             serve over ZeroMQ (a ROUTER socket, zmq+tcp://HOST:PORT; needs the zeromq package)',
    LOG_USAGE,
  ].join('\n');
}

const spec: CommandSpec = {
  name: 'weft serve',
  usage: serveHelp,
  options: { ...LISTEN_OPTIONS, ...LOG_OPTIONS, module: { type: 'string' }, zmq: { type: 'boolean' } },
};

/** What a module exposes: its namespace, or its default export when that is all it has. */
function exposedObject(namespace: Record<string, unknown>): object {
  const names = Object.keys(namespace);
  const only = namespace.default;
  if (names.length === 1 && typeof only === 'object' && only !== null) return only;
  return namespace;
}

export async function runServe(argv: string[]): Promise<number> {
  const { values, help } = parseCommand(spec, argv);
  if (help) {
    console.log(serveHelp());
    return 0;
  }
  // In the order a user fixes them: what to serve, then how to listen, then the secret.
  const modulePath = required(spec, values, 'module', '--module FILE');
  const moduleFile = resolve(modulePath);
  if (!existsSync(moduleFile)) throw new UsageError(`--module: no such file ${modulePath} (resolved to ${moduleFile})`, spec.usage());
  const listen = readListenOptions(spec, values);
  installLogger(spec, values);
  const { serve } = await import('../remote/rpc.js');
  const namespace = await import(pathToFileURL(moduleFile).href) as Record<string, unknown>;
  const expose = exposedObject(namespace);
  const server = await serve({
    ...listen,
    ...(values.zmq === true ? { transport: 'zmq' as const } : {}),
    expose,
    onError: (error) => logger().warn(`weft serve: ${error.message}`),
    onRefused: (report) => logger().warn(`weft serve: ${report.message}`), // at most one line per 10 s
  });
  console.log(`weft serve: serving ${modulePath} on ${server.url}`);
  await closeOnSignal('weft serve', server);
  return 0;
}

