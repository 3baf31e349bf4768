import { ProtocolError, serializeError } from '../../core/errors.js';
import { Deque } from '../../core/deque.js';
import { futureInternals, type Future } from '../../core/future.js';
import { invokeTask, isPromiseLike } from '../../core/invoke.js';
import { Codec, reviveError, type RefContext } from '../codec.js';
import { FrameType, HEADER_SIZE } from '../frame.js';
import type { FramedLink } from '../link.js';
import { maxArguments } from './arity.js';
import { cancelError, IncomingCall, OutgoingCall, type CallOptions, type CancelReason } from './calls.js';
import type { Descriptor } from './describe.js';
import { ExportTable, type Exported } from './exports.js';
import { makeProxy, proxyHandle, type ProxySession } from './proxy.js';
import { hooks, type Hooks, type Scope } from '../../observe/hooks.js';
import { propagateTraces } from '../../observe/propagate.js';

/**
 * RPC over one FramedLink (a TCP/TLS Connection or a ZeroMQ peer, link.ts), the same in both
 * directions: either side may call objects the other lends (the server's root, and anything
 * sent by reference either way). Frame bodies:
 *
 *   CALL     id  [target, method, args, traceparent?]   the caller's id; target 0 is the root;
 *                                           the trace carrier only while the caller traces
 *   GET      id  [target, property]
 *   DESCRIBE id  [target]                   → RESULT [methods, properties]
 *   RESULT   id  value          ERROR id  error          (exactly one per call)
 *   YIELD    id  value          PROGRESS id  value       (before the RESULT)
 *   CANCEL   id  "cancel" | "timeout"        the handler's signal aborts; RESULT/ERROR still come
 *   RELEASE  id  count                       the peer dropped `count` proxies of object `id`
 *
 * Calls pipeline: many may be in flight; answers come in any order. This side keeps at most the
 * peer's announced `maxInFlight` calls outstanding and queues the rest here, so a well-behaved
 * client never meets the server's limit; a client that ignores it gets an ERROR per excess call.
 */
export interface SessionOptions {
  /** The object this side serves as id 0 (servers). */
  root?: object;
  /** Default options of calls made through this session's proxies. */
  callOptions?: CallOptions;
}

export class RpcSession implements RefContext, ProxySession {
  readonly connection: FramedLink;
  #codec: Codec;
  #exports: ExportTable;
  #window: number;
  #maxIncoming: number;
  #nextId = 0;
  #pending = new Map<number, OutgoingCall>();
  #queued = new Deque<OutgoingCall>();
  #incoming = new Map<number, IncomingCall>();
  #callOptions: CallOptions | undefined;
  #closed: Error | undefined;

  constructor(connection: FramedLink, options: SessionOptions = {}) {
    this.connection = connection;
    this.#codec = new Codec(this);
    this.#exports = new ExportTable(options.root);
    this.#callOptions = options.callOptions;
    this.#window = connection.peerLimits.maxInFlight || Infinity;
    this.#maxIncoming = connection.limits.maxInFlight;
    connection.onClose((error) => this.#onClose(error));
    connection.start(this.#onFrame);
  }

  get isOpen(): boolean {
    return this.#closed === undefined;
  }

  /** Calls in flight or queued from this side. */
  get pendingCalls(): number {
    return this.#pending.size + this.#queued.length;
  }

  /** Objects this side currently lends to the peer, the root included. */
  get exportedObjects(): number {
    return this.#exports.size;
  }

  // ---- calling the peer ---------------------------------------------------------------------

  call(target: number, method: string, args: unknown[], options: CallOptions | undefined): Future<any, any> {
    const h = hooks.current;
    if (h !== undefined) return this.#observedCall(h, target, method, args, options);
    return this.#send(FrameType.CALL, [target, method, args], method, options);
  }

  /** A call while observing: a CLIENT span (and metrics) around it, its carrier in the frame. */
  #observedCall(h: Hooks, target: number, method: string, args: unknown[], options: CallOptions | undefined): Future<any, any> {
    const scope = h.rpcCall(method);
    const body = scope.traceparent === undefined ? [target, method, args] : [target, method, args, scope.traceparent];
    return this.#send(FrameType.CALL, body, method, options).onDone((future) => {
      scope.end(future.state === 'done' ? undefined : futureInternals.outcome(future));
    });
  }

  read(target: number, name: string, options: CallOptions | undefined): Future<any, any> {
    return this.#send(FrameType.GET, [target, name], name, options);
  }

  /** A proxy for the peer's root object. */
  async root<T>(options?: CallOptions): Promise<T> {
    const shape = await this.#send(FrameType.DESCRIBE, [0], 'describe', options ?? this.#callOptions);
    return makeProxy(this, 0, checkShape(shape), options ?? this.#callOptions, true) as T;
  }

  release(target: number): void {
    if (this.#closed) return;
    this.connection.send(this.#codec.encodeFrame(FrameType.RELEASE, target, 1));
  }

  close(reason = 'closed by the client'): Promise<void> {
    this.connection.close(reason);
    return this.connection.whenClosed().then(() => {});
  }

  #send(type: number, body: unknown[], label: string, options: CallOptions | undefined): Future<any, any> {
    const call = new OutgoingCall(this, label);
    if (this.#closed) {
      call.fail(this.#closed);
      return call.future;
    }
    try {
      call.frame = this.#codec.encodeFrame(type, 0, body);
    } catch (error) {
      call.fail(new TypeError(`the arguments of ${label} cannot be sent: ${(error as Error).message}`, { cause: error }));
      return call.future;
    }
    const limit = this.connection.peerLimits.maxFrameSize;
    if (call.frame.length - HEADER_SIZE > limit) {
      call.fail(new RangeError(`the arguments of ${label} take ${call.frame.length - HEADER_SIZE} bytes, more than the peer's limit of ${limit}`));
      return call.future;
    }
    call.watch(options ?? this.#callOptions);
    if (this.#pending.size < this.#window) this.#transmit(call);
    else this.#queued.push(call);
    return call.future;
  }

  #transmit(call: OutgoingCall): void {
    const id = (this.#nextId = this.#nextId >= 0xffff_ffff ? 1 : this.#nextId + 1);
    call.id = id;
    const frame = call.frame!;
    call.frame = undefined;
    frame.writeUInt32BE(id, 6);
    this.#pending.set(id, call);
    this.connection.send(frame);
  }

  #pump(): void {
    while (this.#pending.size < this.#window && this.#queued.length > 0) {
      const call = this.#queued.shift()!;
      if (call.future.state === 'running') this.#transmit(call);
    }
  }

  /** The caller gave up (cancel or timeout): tell the handler, forget the call. */
  abandon(call: OutgoingCall, reason: CancelReason): void {
    if (call.id === 0 || !this.#pending.delete(call.id)) return; // still queued: #pump skips it
    if (!this.#closed) this.connection.send(this.#codec.encodeFrame(FrameType.CANCEL, call.id, reason));
    this.#pump();
  }

  // ---- frames from the peer -----------------------------------------------------------------

  #onFrame = (type: number, id: number, body: Buffer): void => {
    switch (type) {
      case FrameType.RESULT:
      case FrameType.ERROR:
        return this.#answer(type, id, body);
      case FrameType.YIELD:
      case FrameType.PROGRESS: {
        const call = this.#pending.get(id);
        if (!call) return;
        const value = this.#decodeFor(call, body);
        if (type === FrameType.YIELD) call.push(value);
        else call.progress(value);
        return;
      }
      case FrameType.CALL:
      case FrameType.GET:
      case FrameType.DESCRIBE:
        return this.#serve(type, id, body);
      case FrameType.CANCEL:
        return this.#incoming.get(id)?.abort(cancelError(this.#codec.decode(body)));
      case FrameType.RELEASE: {
        const count = this.#codec.decode(body);
        return this.#exports.release(id, typeof count === 'number' && count > 0 ? count : 1);
      }
      default:
        throw new ProtocolError(`frame type 0x${type.toString(16)} is not part of RPC`);
    }
  };

  #answer(type: number, id: number, body: Buffer): void {
    const call = this.#pending.get(id);
    if (!call) return; // cancelled or timed out here already
    this.#pending.delete(id);
    let value: unknown;
    try {
      value = this.#codec.decode(body);
    } catch (error) {
      call.fail(error);
      return this.#pump();
    }
    if (type === FrameType.RESULT) call.succeed(value);
    else call.fail(value instanceof Error ? value : reviveError(value));
    if (this.#queued.length > 0) this.#pump();
  }

  #decodeFor(call: OutgoingCall, body: Buffer): unknown {
    try {
      return this.#codec.decode(body);
    } catch (error) {
      call.fail(error);
      this.abandon(call, 'cancel');
      return undefined;
    }
  }

  // ---- serving the peer ---------------------------------------------------------------------

  #serve(type: number, id: number, body: Buffer): void {
    let message: unknown;
    try {
      message = this.#codec.decode(body);
    } catch (error) {
      return this.#reply(FrameType.ERROR, id, error);
    }
    if (!Array.isArray(message) || typeof message[0] !== 'number') {
      return this.#reply(FrameType.ERROR, id, new ProtocolError(`a request body must be an array starting with an object id, got ${describeShape(message)}`));
    }
    const entry = this.#exports.get(message[0]);
    if (!entry) {
      return this.#reply(FrameType.ERROR, id, new ReferenceError(`there is no remote object #${message[0]}: it was released or never existed`));
    }
    if (type === FrameType.DESCRIBE) return this.#reply(FrameType.RESULT, id, [entry.shape.methods, entry.shape.props]);
    if (type === FrameType.GET) return this.#readProperty(id, entry, message[1]);
    const method = message[1] as unknown;
    const args = message[2] as unknown;
    if (typeof method !== 'string' || !Array.isArray(args)) {
      return this.#reply(FrameType.ERROR, id, new ProtocolError('a CALL body must be [objectId, method: string, args: array]'));
    }
    const fn = entry.shape.methodSet.has(method) ? (entry.target as Record<string, unknown>)[method] : undefined;
    if (typeof fn !== 'function') {
      return this.#reply(FrameType.ERROR, id, new TypeError(`remote object #${message[0]} has no method ${JSON.stringify(method)}; its methods are: ${entry.shape.methods.join(', ') || '(none)'}`));
    }
    const most = maxArguments(fn);
    if (args.length > most) {
      return this.#reply(FrameType.ERROR, id, new TypeError(`${method}() takes at most ${most} argument${most === 1 ? '' : 's'}, got ${args.length}`));
    }
    if (this.#incoming.size >= this.#maxIncoming) {
      return this.#reply(FrameType.ERROR, id, new ProtocolError(`too many calls in flight on this connection (limit ${this.#maxIncoming})`));
    }
    const traced = typeof message[3] === 'string' ? message[3] : undefined;
    if (traced !== undefined) propagateTraces();
    const call = new IncomingCall(this, id);
    const scope = hooks.current?.received(call, 'rpc', method, traced, { 'rpc.weft.object_id': message[0] });
    this.#invoke(call, fn as (...args: unknown[]) => unknown, args, entry.target, scope);
  }

  #invoke(call: IncomingCall, fn: (...args: unknown[]) => unknown, args: unknown[], target: object, scope: Scope | undefined): void {
    const id = call.callId;
    let out: unknown;
    try {
      out = scope === undefined ? invokeTask(fn, args, call, IncomingCall.onValue, target) : hooks.current!.within(scope, () => invokeTask(fn, args, call, IncomingCall.onValue, target));
    } catch (error) {
      scope?.end(error);
      return this.#reply(FrameType.ERROR, id, error);
    }
    if (!isPromiseLike(out)) {
      scope?.end();
      return this.#reply(FrameType.RESULT, id, out);
    }
    this.#incoming.set(id, call);
    out.then(
      (value) => { scope?.end(); this.#incoming.delete(id) && this.#reply(FrameType.RESULT, id, value); },
      (error) => { scope?.end(error); this.#incoming.delete(id) && this.#reply(FrameType.ERROR, id, error); },
    );
  }

  #readProperty(id: number, entry: Exported, name: unknown): void {
    if (typeof name !== 'string' || !entry.shape.propSet.has(name)) {
      return this.#reply(FrameType.ERROR, id, new TypeError(`remote object has no readable property ${JSON.stringify(name)}; its properties are: ${entry.shape.props.join(', ') || '(none)'}`));
    }
    let value: unknown;
    try {
      value = (entry.target as Record<string, unknown>)[name];
    } catch (error) {
      return this.#reply(FrameType.ERROR, id, error);
    }
    if (!isPromiseLike(value)) return this.#reply(FrameType.RESULT, id, value);
    value.then((v) => this.#reply(FrameType.RESULT, id, v), (e) => this.#reply(FrameType.ERROR, id, e));
  }

  handlerYield(call: IncomingCall, value: unknown): void {
    this.#reply(FrameType.YIELD, call.callId, value);
  }

  handlerProgress(call: IncomingCall, value: unknown): void {
    this.#reply(FrameType.PROGRESS, call.callId, value);
  }

  /** Sends an answer frame; a value that cannot be sent becomes an ERROR that says why. */
  #reply(type: number, id: number, value: unknown): void {
    if (this.#closed) return;
    if (type === FrameType.ERROR && !(value instanceof Error)) value = serializeError(value);
    let frame: Buffer;
    try {
      frame = this.#codec.encodeFrame(type, id, value);
      const limit = this.connection.peerLimits.maxFrameSize;
      if (frame.length - HEADER_SIZE > limit) {
        throw new RangeError(`the answer takes ${frame.length - HEADER_SIZE} bytes, more than the caller's limit of ${limit}`);
      }
    } catch (error) {
      // The call fails with the reason instead; the handler (a generator, say) may go on running.
      const what = type === FrameType.ERROR ? 'error' : 'value';
      frame = this.#codec.encodeFrame(FrameType.ERROR, id, new TypeError(`the ${what} could not be sent back: ${(error as Error).message}`));
    }
    this.connection.send(frame);
  }

  // ---- references ---------------------------------------------------------------------------

  exportRef(target: object): unknown {
    const [id, entry] = this.#exports.add(target);
    return [id, entry.shape.methods, entry.shape.props];
  }

  importRef(data: unknown): object {
    if (!Array.isArray(data) || typeof data[0] !== 'number' || data[0] <= 0) {
      throw new ProtocolError('a remote object reference must be [id > 0, methods, properties]');
    }
    return makeProxy(this, data[0], checkShape([data[1], data[2]]), this.#callOptions, false);
  }

  proxyId(proxy: object): number {
    const handle = proxyHandle(proxy);
    if (!handle || handle.session !== this) {
      throw new TypeError('a remote object proxy can only be sent back over the connection it came from');
    }
    return handle.id;
  }

  localRef(id: number): object {
    const entry = this.#exports.get(id);
    if (!entry) throw new ReferenceError(`the peer sent back remote object #${id}, which this side no longer lends`);
    return entry.target;
  }

  // ---- closing ------------------------------------------------------------------------------

  #onClose(error: Error): void {
    this.#closed = error;
    for (const call of this.#pending.values()) call.fail(error);
    this.#pending.clear();
    for (const call of this.#queued.drain()) call.fail(error);
    for (const call of this.#incoming.values()) call.abort(error);
    this.#incoming.clear();
    this.#exports.clear();
  }
}

function checkShape(value: unknown): Descriptor {
  const ok = Array.isArray(value) && value.length === 2 && value.every((list) => Array.isArray(list) && list.every((n) => typeof n === 'string'));
  if (!ok) throw new ProtocolError('a remote object description must be [methods: string[], properties: string[]]');
  return { methods: value[0] as string[], props: value[1] as string[] };
}

function describeShape(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array without one' : typeof value;
}
