/**
 * weft's error tree. Every error has a stable `name` and a stable `code` (`weft:...`) so that
 * callers can branch on either; neither changes between releases.
 *
 *   WeftError
 *   ├── CancelledError        the future was cancelled (or the caller's signal aborted)
 *   ├── TimeoutError          a wait, a result or a task ran past its time limit
 *   ├── InvalidStateError     a future or executor was used in a state that forbids it
 *   ├── RemoteError           a task failed in another thread, process or host
 *   ├── WorkerCrashedError    the worker that held a task died before answering
 *   ├── BrokenExecutorError   the executor can no longer run tasks
 *   ├── AuthenticationError   a peer failed (or refused) the authkey handshake
 *   ├── ProtocolError         a peer sent bytes that break the wire protocol or its limits
 *   ├── ConnectionClosedError the connection a call was waiting on closed
 *   └── MissingDependencyError an optional package a URL needs is not installed
 */

export class WeftError extends Error {
  readonly code: string = 'weft:error';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class CancelledError extends WeftError {
  override readonly code = 'weft:cancelled';
  constructor(message = 'the future was cancelled', options?: ErrorOptions) {
    super(message, options);
  }
}

export class TimeoutError extends WeftError {
  override readonly code = 'weft:timeout';
}

export class InvalidStateError extends WeftError {
  override readonly code = 'weft:invalid-state';
}

export class BrokenExecutorError extends WeftError {
  override readonly code = 'weft:broken-executor';
}

export class AuthenticationError extends WeftError {
  override readonly code = 'weft:auth';
}

export class ProtocolError extends WeftError {
  override readonly code = 'weft:protocol';
}

export class ConnectionClosedError extends WeftError {
  override readonly code = 'weft:connection-closed';
}

/**
 * A broker client (ioredis, amqplib, nats, kafkajs, zeromq, the SQS SDK) is an optional peer
 * dependency: installed by the program that opens its URLs, not by weft. `packageName` is what
 * to install; the message says the command.
 */
export class MissingDependencyError extends WeftError {
  override readonly code = 'weft:missing-dependency';
  constructor(readonly packageName: string, purpose: string, options?: ErrorOptions) {
    super(`${purpose} needs the ${packageName} package, an optional peer dependency of weft that is not installed: npm i ${packageName}`, options);
  }
}

export interface WorkerCrashInfo {
  workerId: string | number;
  exitCode?: number | null;
  signal?: string | null;
  reason?: string;
  /** The worker reached its heap limit (see {@link WorkerCrashedError.outOfMemory}). */
  outOfMemory?: boolean;
}

export class WorkerCrashedError extends WeftError {
  override readonly code = 'weft:worker-crashed';
  readonly workerId: string | number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly reason: string | undefined;
  /**
   * The worker ran out of memory (a thread past its `resourceLimits`, a child past its heap
   * limit); `reason` then starts with "out of memory". False for every other way of dying.
   */
  readonly outOfMemory: boolean;
  constructor(info: WorkerCrashInfo, options?: ErrorOptions) {
    const how = info.signal ? `signal ${info.signal}` : `exit code ${info.exitCode ?? 'unknown'}`;
    super(`worker ${info.workerId} crashed (${how})${info.reason ? `: ${info.reason}` : ''}`, options);
    this.workerId = info.workerId;
    this.exitCode = info.exitCode ?? null;
    this.signal = info.signal ?? null;
    this.reason = info.reason;
    this.outOfMemory = info.outOfMemory ?? false;
  }
}

/** The plain data a failed remote task sends back; see {@link RemoteError.fromSerialized}. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
  cause?: SerializedError | unknown;
  props?: Record<string, unknown>;
}

/**
 * A task failed somewhere else. `remoteName`, `message` and `remoteStack` are the original's;
 * its own enumerable properties are copied onto this error; its cause chain is kept as `cause`.
 */
export class RemoteError extends WeftError {
  override readonly code = 'weft:remote';
  readonly remoteName: string;
  readonly remoteStack: string | undefined;
  readonly remoteCode: unknown;

  constructor(data: SerializedError) {
    const cause = reviveCause(data.cause);
    super(data.message, cause === undefined ? undefined : { cause });
    this.remoteName = data.name;
    this.remoteStack = data.stack;
    this.remoteCode = data.code;
    if (data.props) {
      for (const [key, value] of Object.entries(data.props)) {
        if (!(key in this)) (this as Record<string, unknown>)[key] = value;
      }
    }
    if (data.stack) this.stack = `${this.name}: ${data.message}\n    [remote] ${data.stack}`;
  }

  static fromSerialized(data: SerializedError): RemoteError {
    return new RemoteError(data);
  }
}

/**
 * A cause that is still plain data becomes a chain of RemoteErrors, built from the bottom up in
 * one pass and cut after MAX_ERROR_NESTING levels. A cause that is already an Error is kept as
 * it is: the codec revives nested errors innermost first, and rebuilding each level's chain
 * again (with its stack text nested once more) made a chain of n errors cost n² or worse.
 */
function reviveCause(cause: unknown): unknown {
  if (!isPlainSerializedError(cause)) return cause;
  const chain: SerializedError[] = [];
  let level: unknown = cause;
  while (isPlainSerializedError(level) && chain.length < MAX_ERROR_NESTING) {
    chain.push(level);
    level = level.cause;
  }
  let below = isPlainSerializedError(level) ? undefined : level;
  for (let i = chain.length - 1; i >= 0; i--) below = new RemoteError({ ...chain[i]!, cause: below });
  return below;
}

/** serializeError writes causes down to this depth (the error itself is depth 0). */
export const MAX_SERIALIZED_CAUSE_DEPTH = 8;

/**
 * Errors read from elsewhere may nest inside errors (as causes or properties) this deep; the
 * codec refuses deeper bodies and RemoteError cuts plain cause chains there. weft writes at most
 * MAX_SERIALIZED_CAUSE_DEPTH + 1 levels of cause, plus whatever errors sit in an error's own
 * properties; 32 leaves room for those, and each level costs an Error (a stack capture) to read.
 */
export const MAX_ERROR_NESTING = 32;

const RESERVED_PROPS = new Set(['name', 'message', 'stack', 'cause', 'code']);

/** Turns any thrown value into plain data that survives structured clone or MessagePack. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    return { name: 'NonError', message: describeThrown(error) };
  }
  const out: SerializedError = { name: error.name, message: error.message, stack: error.stack };
  const record = error as unknown as Record<string, unknown>;
  if (record.code !== undefined) out.code = record.code;
  if (error.cause !== undefined && depth < MAX_SERIALIZED_CAUSE_DEPTH) out.cause = serializeError(error.cause, depth + 1);
  const props: Record<string, unknown> = {};
  let any = false;
  for (const key of Object.keys(error)) {
    if (RESERVED_PROPS.has(key)) continue;
    const value = record[key];
    if (typeof value === 'function' || typeof value === 'symbol') continue;
    props[key] = value;
    any = true;
  }
  if (any) out.props = props;
  return out;
}

function isSerializedError(value: unknown): value is SerializedError {
  return typeof value === 'object' && value !== null && typeof (value as SerializedError).message === 'string'
    && typeof (value as SerializedError).name === 'string';
}

function isPlainSerializedError(value: unknown): value is SerializedError {
  return isSerializedError(value) && !(value instanceof Error);
}

function describeThrown(value: unknown): string {
  try {
    return typeof value === 'string' ? value : `non-error value thrown: ${String(value)}`;
  } catch {
    return 'non-error value thrown';
  }
}
