/**
 * The one place weft loads a broker client library. Each is an optional peer dependency: `npm i
 * weft` installs none of them, and a program loads one only when it opens a URL of its kind.
 *
 *   openBroker('redis://…') ──► loadPeer('ioredis', 'redis:// URLs') ──► import('ioredis')
 *                                   │ not installed                        │ once, then cached
 *                                   └─► MissingDependencyError("… npm i ioredis")
 *   adapter code, after that ──► peer('ioredis').Redis   (synchronous: already loaded)
 *
 * Only type imports of these packages appear elsewhere in src/ (erased at compile time);
 * test/package checks that no module statically imports one.
 */
import { MissingDependencyError } from '../core/errors.js';

export interface PeerModules {
  ioredis: typeof import('ioredis');
  amqplib: typeof import('amqplib');
  nats: typeof import('nats');
}

export type PeerName = keyof PeerModules;

/** Each package a URL scheme needs, for `npm i` (and the README's table). */
export const PEER_PACKAGES: readonly PeerName[] = ['ioredis', 'amqplib', 'nats'];

const loaded: Partial<PeerModules> = {};
const loading: Partial<Record<PeerName, Promise<unknown>>> = {};

/** Loads `name` (once), or rejects with MissingDependencyError saying what to install. */
export function loadPeer<N extends PeerName>(name: N, purpose: string): Promise<PeerModules[N]> {
  if (loaded[name]) return Promise.resolve(loaded[name]!);
  loading[name] ??= importPackage(name).then(
    (module) => (loaded[name] = module as PeerModules[N]),
    (error: unknown) => {
      delete loading[name]; // installed later (a long-running program): try again next time
      throw missingOr(error, name, purpose);
    },
  );
  return loading[name] as Promise<PeerModules[N]>;
}

/** A package loadPeer has loaded: for the synchronous code of an adapter that awaited it first. */
export function peer<N extends PeerName>(name: N): PeerModules[N] {
  const module = loaded[name];
  if (!module) throw new Error(`weft bug: ${name} used before loadPeer('${name}') resolved`);
  return module;
}

/** A package that is not installed becomes MissingDependencyError; any other failure is kept. */
export function missingOr(error: unknown, name: string, purpose: string): unknown {
  const { code, message } = error as { code?: string; message?: string };
  const missing = code === 'ERR_MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${name}'`);
  return missing ? new MissingDependencyError(name, purpose, { cause: error }) : error;
}

/** The import itself, by a name TypeScript does not resolve (the names are checked by the map above). */
function importPackage(name: string): Promise<unknown> {
  return import(name);
}
