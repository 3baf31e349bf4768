import { registerShareable, type ParentChannel, type WorkerKind } from '../core/shareable.js';
import { InvalidStateError } from '../core/errors.js';
import { describe } from '../core/validate.js';

/**
 * How each primitive crosses into a worker, in one shape (see core/shareable.ts):
 * - to a thread, `toShared` gives its SharedArrayBuffers and `fromShared` rebuilds it over the
 *   same memory in the worker: both sides operate on it directly;
 * - to a process, the parent keeps it in the pool's ObjectServer and the child gets a proxy
 *   whose methods call the parent (`serve` runs them there).
 */
export interface PrimitiveSpec<T extends object, S> {
  name: string;
  Class: abstract new (...args: any[]) => T;
  toShared(value: T): S;
  fromShared(shared: S): T;
  proxy(parent: ParentChannel, id: number): object;
  serve(value: T, method: string, args: unknown[], signal: AbortSignal | undefined): unknown;
}

export function registerPrimitive<T extends object, S>(spec: PrimitiveSpec<T, S>): void {
  registerShareable({
    name: spec.name,
    matches: (value) => value instanceof spec.Class,
    encode(value, kind, server) {
      if (kind === 'thread') return spec.toShared(value as T);
      if (!server) throw new TypeError(`a ${spec.name} can reach a child process only through a pool that serves objects (no ObjectServer was given)`);
      return server.register(value as object);
    },
    decode(data, kind: WorkerKind, parent) {
      if (kind === 'thread') return spec.fromShared(data as S);
      if (!parent) throw new TypeError(`a ${spec.name} in a child process needs a channel to its parent (no ParentChannel was given)`);
      return spec.proxy(parent, data as number);
    },
    serve: (value, method, args, signal) => spec.serve(value as T, method, args, signal),
  });
}

/** The parent's refusal of a method a child may not call. */
export function noSuchMethod(name: string, method: string): TypeError {
  return new TypeError(`${name} has no method ${describe(method)} that a child process may call`);
}

/**
 * Base of the child-side proxies: every call goes to the parent and answers asynchronously.
 * Calls are sent in program order and served in that order, so `release(); acquire()` keeps its
 * meaning even without awaiting the release.
 */
export abstract class ServedProxy {
  readonly #parent: ParentChannel;
  readonly #id: number;
  protected abstract readonly kind: string;

  constructor(parent: ParentChannel, id: number) {
    this.#parent = parent;
    this.#id = id;
  }

  protected call(method: string, args: unknown[] = []): Promise<unknown> {
    return this.#parent.call(this.#id, method, args);
  }

  /** A synchronous read has no answer here: the state lives in the parent. */
  protected unavailable(member: string, instead: string): never {
    throw new InvalidStateError(`${this.kind}.${member} cannot be read synchronously in a child process (the ${this.kind} lives in the parent); ${instead}`);
  }

  /** A signal cannot cross to the parent; the options keep only the timeout. */
  protected static remoteOptions(kind: string, options: { timeout?: number; signal?: AbortSignal } | undefined): { timeout?: number } | undefined {
    if (options?.signal !== undefined) throw new TypeError(`${kind}: a signal cannot cross to the parent process; use { timeout } in a child process`);
    return options?.timeout === undefined ? undefined : { timeout: options.timeout };
  }
}
