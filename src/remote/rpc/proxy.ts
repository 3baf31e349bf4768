import { inspect } from 'node:util';
import { InvalidStateError } from '../../core/errors.js';
import { Future, futureInternals } from '../../core/future.js';
import type { ResultOf, YieldOf } from '../../core/task.js';
import { ByRef, RemoteObject } from '../codec.js';
import { checkCallOptions, type CallOptions } from './calls.js';
import type { Descriptor } from './describe.js';

/**
 * Client-side stand-ins for objects that live on the other side of a connection. A proxy is a
 * plain object (an instance of RemoteObject, so that it can be sent back by id) with one
 * function per remote method and one getter per remote property, built from the descriptor
 * the peer sent; it has no `then`, so awaiting a proxy is safe.
 *
 * Control members — `release()` on objects received by reference, `close()` on the root that
 * connect() returns, and `Symbol.asyncDispose` on both — are added only where the remote object
 * has no member of that name (a remote Lock keeps its own `release`); releaseProxy() always works.
 */

/** What a proxy needs from its session. */
export interface ProxySession {
  call(target: number, method: string, args: unknown[], options: CallOptions | undefined): Future<any, any>;
  read(target: number, name: string, options: CallOptions | undefined): Future<any, any>;
  release(target: number): void;
  close(reason?: string): Promise<void>;
}

/** The proxy a by-reference value becomes; byRef(x) in a result arrives as Remote<typeof x>. */
type Arrived<R> = R extends ByRef<infer U> ? Remote<U> : R;

/** A remote method: call it like the original, get a Future; `.with()` sets per-call options. */
export interface RemoteMethod<F extends (...args: any[]) => unknown> {
  (...args: Parameters<F>): Future<Arrived<ResultOf<F>>, YieldOf<F>>;
  with(options: CallOptions): RemoteMethod<F>;
}

type ExposedKeys<T> = { [K in keyof T]: K extends string ? (K extends 'then' | 'constructor' | `_${string}` ? never : K) : never }[keyof T];

/** Every method becomes async (a Future); every property read is a Promise. */
export type RemoteMembers<T> = {
  readonly [K in ExposedKeys<T>]: T[K] extends (...args: any[]) => unknown ? RemoteMethod<T[K]> : Promise<Arrived<Awaited<T[K]>>>;
};

export interface RemoteControl {
  /** Tells the owner this proxy is no longer needed; later calls on it fail. */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface RootControl extends RemoteControl {
  /** Closes the connection; pending calls reject with ConnectionClosedError. */
  close(): Promise<void>;
}

/** A proxy of an object received by reference. */
export type Remote<T> = RemoteMembers<T> & Omit<RemoteControl, keyof T>;
/** The proxy connect() resolves to: the served object, and the connection's `close()`. */
export type RemoteRoot<T> = RemoteMembers<T> & Omit<RootControl, keyof T>;

interface ProxyHandle {
  readonly session: ProxySession;
  readonly id: number;
  readonly root: boolean;
  released: boolean;
}

const handles = new WeakMap<object, ProxyHandle>();

export function proxyHandle(proxy: object): ProxyHandle | undefined {
  return handles.get(proxy);
}

export function isRemote(value: unknown): boolean {
  return typeof value === 'object' && value !== null && handles.has(value);
}

/** Releases a by-reference proxy, or closes the connection of a root proxy. Idempotent. */
export async function releaseProxy(proxy: object): Promise<void> {
  const handle = handles.get(proxy);
  if (!handle) throw new TypeError('releaseProxy() expects a proxy from connect() or a remote object');
  if (handle.released) return;
  handle.released = true;
  if (handle.root) await handle.session.close();
  else handle.session.release(handle.id);
}

export function makeProxy(session: ProxySession, id: number, shape: Descriptor, defaults: CallOptions | undefined, root: boolean): object {
  const handle: ProxyHandle = { session, id, root, released: false };
  const proxy = Object.create(RemoteObject.prototype) as Record<string | symbol, unknown>;
  const names = new Set<string>();
  for (const name of shape.methods) {
    names.add(name);
    Object.defineProperty(proxy, name, { value: remoteMethod(handle, name, defaults), enumerable: true });
  }
  for (const name of shape.props) {
    names.add(name);
    Object.defineProperty(proxy, name, { get: () => readProperty(handle, name, defaults), enumerable: true });
  }
  const release = () => releaseProxy(proxy);
  if (!names.has('release')) Object.defineProperty(proxy, 'release', { value: release });
  if (root && !names.has('close')) Object.defineProperty(proxy, 'close', { value: release });
  Object.defineProperty(proxy, Symbol.asyncDispose, { value: release });
  Object.defineProperty(proxy, Symbol.toStringTag, { value: 'Remote' });
  Object.defineProperty(proxy, inspect.custom, {
    value: () => `Remote<${root ? 'root' : `#${id}`}> { ${[...names].join(', ')} }`,
  });
  handles.set(proxy, handle);
  return proxy;
}

function remoteMethod(handle: ProxyHandle, name: string, options: CallOptions | undefined): RemoteMethod<(...args: any[]) => unknown> {
  const method = (...args: unknown[]) => (handle.released && !handle.root ? releasedFuture(handle, name) : handle.session.call(handle.id, name, args, options));
  method.with = (more: CallOptions) => remoteMethod(handle, name, { ...options, ...checkCallOptions(more) });
  return method as RemoteMethod<(...args: any[]) => unknown>;
}

function readProperty(handle: ProxyHandle, name: string, options: CallOptions | undefined): Future<any, any> {
  return handle.released && !handle.root ? releasedFuture(handle, name) : handle.session.read(handle.id, name, options);
}

/** A released by-reference proxy refuses calls; a closed root fails them with the connection's error. */
function releasedFuture(handle: ProxyHandle, name: string): Future<any, any> {
  const future = new Future();
  futureInternals.setRunning(future);
  futureInternals.setException(future, new InvalidStateError(`cannot use ${name} of remote object #${handle.id}: the proxy was released`));
  return future;
}
