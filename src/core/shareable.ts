/**
 * How special task arguments (weft's Lock, Queue, Event, ...; later remote proxies) cross into
 * a worker. Plain values are structured-cloned; a value a registered handler claims is replaced
 * by a marker `{ [SHAREABLE_KEY]: handler.name, data }` on the way out and revived on the way in:
 *
 *   caller ─ encodeArgs ─▶ { __weft_shareable__: 'Lock', data } ─▶ worker ─ decodeArgs ─▶ Lock
 *
 * To a thread a handler sends shared memory (SharedArrayBuffer), so the worker operates on the
 * primitive directly. To a process it registers the object with the pool's ObjectServer and
 * sends its id; the child's copy calls back through the ParentChannel ("served by the parent").
 * Only top-level arguments are looked at.
 */
export const SHAREABLE_KEY = '__weft_shareable__';

export type WorkerKind = 'thread' | 'process';

/** Parent side of a process pool: keeps objects that children call methods on. */
export interface ObjectServer {
  /** Registers `value`; returns the id children call it by. Idempotent for the same value. */
  register(value: object): number;
}

/** Child side of a process pool: calls a method of an object registered in the parent. */
export interface ParentChannel {
  call(objectId: number, method: string, args: unknown[]): Promise<unknown>;
}

export interface ShareableHandler {
  /** Unique name written into the marker. */
  readonly name: string;
  matches(value: unknown): boolean;
  /** Parent side: a structured-clonable form of `value` for a worker of `kind`. */
  encode(value: unknown, kind: WorkerKind, server: ObjectServer | undefined): unknown;
  /** Worker side: the live object for `data`. */
  decode(data: unknown, kind: WorkerKind, parent: ParentChannel | undefined): unknown;
  /**
   * Parent side, processes: runs `method` on a registered object for a child. `signal` aborts
   * when the child is gone, so that a call still waiting (a queue's get) gives up rather than
   * taking an item nobody will receive.
   */
  serve?(value: object, method: string, args: unknown[], signal?: AbortSignal): unknown;
}

// Shared by every copy of weft in this thread (see the task registry).
const handlers: Map<string, ShareableHandler> = ((globalThis as Record<symbol, unknown>)[Symbol.for('weft.shareables')] ??=
  new Map()) as Map<string, ShareableHandler>;

export function registerShareable(handler: ShareableHandler): void {
  handlers.set(handler.name, handler);
}

export function shareableHandler(name: string): ShareableHandler | undefined {
  return handlers.get(name);
}

/** The handler that claims `value`, if any. */
export function shareableHandlerFor(value: unknown): ShareableHandler | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  for (const handler of handlers.values()) {
    if (handler.matches(value)) return handler;
  }
  return undefined;
}

/** Replaces shareable arguments by markers. Returns `args` itself when nothing matched (the hot path). */
export function encodeArgs(args: readonly unknown[], kind: WorkerKind, server?: ObjectServer): readonly unknown[] {
  if (handlers.size === 0) return args;
  let out: unknown[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    const handler = shareableHandlerFor(value);
    if (!handler) continue;
    out ??= [...args];
    out[i] = { [SHAREABLE_KEY]: handler.name, data: handler.encode(value, kind, server) };
  }
  return out ?? args;
}

/** Revives markers made by encodeArgs. Returns `args` itself when there were none. */
export function decodeArgs(args: readonly unknown[], kind: WorkerKind, parent?: ParentChannel): readonly unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const value = args[i] as Record<string, unknown> | null;
    if (value === null || typeof value !== 'object' || typeof value[SHAREABLE_KEY] !== 'string') continue;
    const handler = handlers.get(value[SHAREABLE_KEY] as string);
    if (!handler) throw new TypeError(`no shareable handler named ${String(value[SHAREABLE_KEY])} is registered in this worker`);
    out ??= [...args];
    out[i] = handler.decode(value.data, kind, parent);
  }
  return out ?? args;
}
