import {
  CancelledError, InvalidStateError, RemoteError, TimeoutError, serializeError, type SerializedError,
} from '../core/errors.js';
import { shareableHandlerFor, type ObjectServer, type ParentChannel, type ShareableHandler } from '../core/shareable.js';
import { describe } from '../core/validate.js';
import { BrokenBarrierError, ClosedError } from './errors.js';

/**
 * Objects "served by the parent": how a child process uses a Lock, Queue, Event... that lives in
 * its parent. The pool owns the transport (an IPC channel); this module only makes and reads
 * plain structured-clonable messages, so it works over `process.send`, a MessagePort or anything
 * else that keeps messages in order.
 *
 *   child                                              parent
 *   proxy.get() ─ channel.call(obj, 'get', args) ─▶ { t: 'weft:obj-call', id, obj, method, args }
 *                                                          │ handleMessage → handler.serve(value, ...)
 *   resolves / rejects ◀── handleMessage ◀──────── { t: 'weft:obj-reply', id, ok, value | error }
 *
 * A pool keeps one ObjectRegistry (its `ObjectServer`, given to encodeArgs) and makes one end
 * per child with `createObjectServer(send, registry)`; when a child dies, closing its end aborts
 * only that child's calls.
 *
 * Calls are served in arrival order: a call's synchronous part (a release, a set) takes effect
 * before the next message is read, so a child's `release(); acquire()` keeps its order. A call
 * that waits (a queue's get) does not hold up the ones behind it. Errors of weft's own classes
 * (TimeoutError, ClosedError, ...) come back as the same class, with the parent's stack kept as
 * a RemoteError `cause`; any other error comes back as a RemoteError.
 */

export const OBJ_CALL = 'weft:obj-call';
export const OBJ_REPLY = 'weft:obj-reply';

export interface ObjectCallMessage {
  t: typeof OBJ_CALL;
  /** Call id, unique per channel; the reply carries it back. */
  id: number;
  /** Object id given by ObjectServer.register. */
  obj: number;
  method: string;
  args: unknown[];
}

export type ObjectReplyMessage =
  | { t: typeof OBJ_REPLY; id: number; ok: true; value: unknown }
  | { t: typeof OBJ_REPLY; id: number; ok: false; error: SerializedError };

export type ObjectMessage = ObjectCallMessage | ObjectReplyMessage;

/** True for any message of this protocol (its `t` starts with `weft:obj-`). */
export function isObjectMessage(msg: unknown): msg is ObjectMessage {
  return typeof msg === 'object' && msg !== null && typeof (msg as { t?: unknown }).t === 'string'
    && (msg as { t: string }).t.startsWith('weft:obj-');
}

export interface ObjectServerEnd {
  /** The registry this end serves from (shared with other ends when one was given). */
  server: ObjectRegistry;
  /** Feed every message from the child here; returns false for messages that are not ours. */
  handleMessage(msg: unknown): boolean;
  /**
   * The child is gone: abort the calls this end is still serving (their waits give up without
   * taking anything) and answer later calls with an error. The registry is left as it is.
   */
  close(reason?: unknown): void;
}

interface Served {
  value: object;
  handler: ShareableHandler & { serve: NonNullable<ShareableHandler['serve']> };
}

/**
 * The objects a parent serves, by id. A pool keeps one for all its children, so that an
 * argument encoded once (the id) means the same object in whichever child runs the task, also
 * after a crash sends it to another one.
 */
export class ObjectRegistry implements ObjectServer {
  readonly #ids = new Map<object, number>();
  readonly #objects = new Map<number, Served>();
  #nextId = 0;

  register(value: object): number {
    const known = this.#ids.get(value);
    if (known !== undefined) return known;
    const handler = shareableHandlerFor(value);
    if (!handler?.serve) {
      throw new TypeError(`Expected an object a shareable handler can serve to a child process, got ${describe(value)}`);
    }
    const id = ++this.#nextId;
    this.#ids.set(value, id);
    this.#objects.set(id, { value, handler: handler as Served['handler'] });
    return id;
  }

  /** The object registered as `id`, with the handler that serves it. */
  lookup(id: number): Served | undefined {
    return this.#objects.get(id);
  }

  /** How many objects are registered. */
  get size(): number {
    return this.#objects.size;
  }

  /** Forgets every object (the pool is closing). */
  clear(): void {
    this.#ids.clear();
    this.#objects.clear();
  }
}

/**
 * Parent side, one per child: answers that child's calls through `send`. Pass the registry of
 * another end to share its objects (a pool: one registry, one end per child).
 */
export function createObjectServer(send: (msg: ObjectReplyMessage) => void, registry = new ObjectRegistry()): ObjectServerEnd {
  const inFlight = new Set<AbortController>();
  let closed: unknown;

  const reply = (msg: ObjectReplyMessage): void => {
    // The child may have gone between its call and our answer; there is nobody to tell.
    try {
      send(msg);
    } catch {}
  };
  const fail = (id: number, error: unknown): void => reply({ t: OBJ_REPLY, id, ok: false, error: serializeError(error) });

  function handleMessage(msg: unknown): boolean {
    if (!isObjectMessage(msg) || msg.t !== OBJ_CALL) return false;
    const { id, obj, method, args } = msg;
    if (typeof id !== 'number') return true; // nothing to answer to
    if (closed !== undefined) {
      fail(id, new InvalidStateError('the object server is closed', { cause: closed }));
      return true;
    }
    const served = registry.lookup(obj);
    if (!served) {
      fail(id, new InvalidStateError(`no object with id ${String(obj)} is served to this child`));
      return true;
    }
    if (typeof method !== 'string' || !Array.isArray(args)) {
      fail(id, new TypeError(`Expected a call with a method name and an argument array, got ${describe(method)} and ${describe(args)}`));
      return true;
    }
    const controller = new AbortController();
    let out: unknown;
    try {
      out = served.handler.serve(served.value, method, args, controller.signal);
    } catch (error) {
      fail(id, error);
      return true;
    }
    if (!isThenable(out)) {
      reply({ t: OBJ_REPLY, id, ok: true, value: out });
      return true;
    }
    inFlight.add(controller);
    out.then(
      (value) => {
        inFlight.delete(controller);
        reply({ t: OBJ_REPLY, id, ok: true, value });
      },
      (error: unknown) => {
        inFlight.delete(controller);
        fail(id, error);
      },
    );
    return true;
  }

  function close(reason: unknown = new CancelledError('the child process is gone')): void {
    if (closed !== undefined) return;
    closed = reason;
    for (const controller of inFlight) controller.abort(reason);
    inFlight.clear();
  }

  return { server: registry, handleMessage, close };
}

export interface ParentChannelEnd {
  channel: ParentChannel;
  /** Feed every message from the parent here; returns false for messages that are not ours. */
  handleMessage(msg: unknown): boolean;
  /** The parent is gone: pending calls reject with `reason`, later calls too. */
  close(reason?: unknown): void;
}

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** Child side: calls methods of objects that live in the parent. */
export function createParentChannel(send: (msg: ObjectCallMessage) => void): ParentChannelEnd {
  const pending = new Map<number, PendingCall>();
  let nextId = 0;
  let closed: unknown;

  const channel: ParentChannel = {
    call(obj: number, method: string, args: unknown[]): Promise<unknown> {
      if (closed !== undefined) return Promise.reject(closed);
      const id = ++nextId;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        try {
          send({ t: OBJ_CALL, id, obj, method, args });
        } catch (error) {
          pending.delete(id);
          reject(error);
        }
      });
    },
  };

  function handleMessage(msg: unknown): boolean {
    if (!isObjectMessage(msg) || msg.t !== OBJ_REPLY) return false;
    const call = pending.get(msg.id);
    if (!call) return true; // answered after close: dropped
    pending.delete(msg.id);
    if (msg.ok) call.resolve(msg.value);
    else call.reject(reviveError(msg.error));
    return true;
  }

  function close(reason: unknown = new InvalidStateError('the channel to the parent process is closed')): void {
    if (closed !== undefined) return;
    closed = reason;
    for (const call of pending.values()) call.reject(reason);
    pending.clear();
  }

  return { channel, handleMessage, close };
}

type ErrorClass = new (message: string, options?: ErrorOptions) => Error;

// The errors a primitive's contract names; a caller catches these by class, so they cross as
// themselves. Keyed by the stable `code`.
const REVIVED: Record<string, ErrorClass> = {
  'weft:timeout': TimeoutError,
  'weft:invalid-state': InvalidStateError,
  'weft:cancelled': CancelledError,
  'weft:closed': ClosedError,
  'weft:broken-barrier': BrokenBarrierError,
};
const REVIVED_BY_NAME: Record<string, ErrorClass> = { TypeError, RangeError };

/** The error a child sees for a failure served by the parent. */
export function reviveError(data: SerializedError): Error {
  const Class = (typeof data.code === 'string' ? REVIVED[data.code] : undefined)
    ?? (data.code === undefined ? REVIVED_BY_NAME[data.name] : undefined);
  const remote = RemoteError.fromSerialized(data);
  return Class ? new Class(data.message, { cause: remote }) : remote;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function')
    && typeof (value as PromiseLike<unknown>).then === 'function';
}
