import type { TaskContext } from '../core/context.js';
import { LazyAbortContext } from '../core/lazy-abort.js';
import { CancelledError, TimeoutError, serializeError } from '../core/errors.js';
import { Deque } from '../core/deque.js';
import { invokeChunk, invokeTask, isPromiseLike } from '../core/invoke.js';
import { decodeArgs, type ParentChannel, type WorkerKind } from '../core/shareable.js';
import { lookupTask } from '../core/task.js';
import { compileSource } from './source.js';
import { takeTransfers, type Transferable } from './transfer.js';
import { ABORT, CALL, CHUNK, DEF, ERR, isCall, LOAD, MODULE, OK, PROGRESS, TRACE, YIELD } from './wire.js';
import { hooks, type Scope } from '../observe/hooks.js';

// Loaded on first use, not at start: a worker's start-up is mostly importing modules.
const PROPAGATE_MODULE = '../observe/propagate.js';

type Fn = (...args: any[]) => unknown;

/**
 * Answers wait for the end of the turn so that a batch of quick calls answers in one message,
 * but no longer than this: after a long call the pool hears at once and can send more work.
 */
const FLUSH_AFTER_MS = 0.5;
export type Send = (batch: unknown[], transfer: Transferable[] | undefined) => void;
/** Takes the next batch already waiting for this worker without a turn of the event loop, if it can. */
export type Poll = () => unknown[] | undefined;

/**
 * The worker side of a pool, the same for threads and processes. Calls run one at a time in
 * arrival order (the pool relies on that to know which call is running); results, progress and
 * yielded values collect in an outbox sent once per turn of the event loop, so a batch of
 * synchronous calls answers with one message.
 */
export class WorkerRuntime {
  #send: Send;
  #kind: WorkerKind;
  #parent: ParentChannel | undefined;
  /** By task id: the function, a promise of it while its module loads, or why it cannot load. */
  #fns: (Fn | Promise<Fn> | Error | undefined)[] = [];
  #inbox = new Deque<Call>();
  /** The trace carrier of the next call (a TRACE record precedes a traced call). */
  #trace: string | undefined;
  #received = 0;
  #current: Call | undefined;
  #running = false;
  /** Seq of the last call answered. */
  #finished = 0;
  /** Modules a LOAD (or the first traced call) asked for: calls wait until they are in. */
  #loading: Promise<void> | undefined;
  /** Tracing support, once loaded (see PROPAGATE_MODULE). */
  #propagate: (() => void) | undefined;
  /** Seqs aborted before they started, with the reason to abort them with when they do. */
  #aborted = new Map<number, unknown>();
  #outbox: unknown[] = [];
  #transfers: Transferable[] | undefined;
  #flushQueued = false;
  #flush = () => this.#doFlush();
  #next = () => this.#drain();
  #onYield = (call: Call, value: unknown) => this.emit(YIELD, call.seq, value);
  /** [0] = seq of the last call started; read by the pool if this worker dies (threads). */
  readonly started: Int32Array;

  #poll: Poll | undefined;

  constructor(send: Send, kind: WorkerKind, started: Int32Array, parent?: ParentChannel, poll?: Poll) {
    this.#send = send;
    this.#poll = poll;
    this.#kind = kind;
    this.started = started;
    this.#parent = parent;
  }

  receive(batch: unknown[]): void {
    this.#take(batch);
    if (!this.#running) this.#drain();
  }

  #take(batch: unknown[]): void {
    for (let i = 0; i < batch.length;) {
      const op = batch[i] as number;
      if (isCall(op)) {
        const call = new Call(this, ++this.#received, op, batch[i + 1] as number, batch[i + 2] as string, batch[i + 3] as number, batch[i + 4] as unknown[]);
        if (this.#trace !== undefined) [call.traceparent, this.#trace] = [this.#trace, undefined];
        this.#inbox.push(call);
        i += 5;
      } else if (op === TRACE) {
        this.#trace = typeof batch[i + 1] === 'string' ? batch[i + 1] as string : undefined;
        if (this.#trace !== undefined && !this.#propagate) {
          this.#load(PROPAGATE_MODULE, (module) => { this.#propagate ??= (module as typeof import('../observe/propagate.js')).propagateTraces; });
        }
        i += 2;
      } else if (op === LOAD) {
        this.#load(batch[i + 1] as string);
        i += 2;
      } else if (op === DEF) {
        this.#define(batch[i + 1] as number, batch[i + 2] as number, batch[i + 3] as string, batch[i + 4] as string);
        i += 5;
      } else if (op === ABORT) {
        this.#abort(batch[i + 1] as number, reviveReason(batch[i + 2] as string, batch[i + 3] as string));
        i += 4;
      } else {
        throw new TypeError(`weft worker: unknown message op ${String(op)}`);
      }
    }
  }

  /** Queues an outgoing record; the outbox goes out at the end of this turn. */
  emit(op: number, seq: number, value: unknown): void {
    this.#outbox.push(op, seq, value);
    if (op === OK || op === YIELD) this.#transfers = takeTransfers([value], this.#transfers);
    // Progress goes out at once: a synchronous task may report and then run for a long time.
    if (op === PROGRESS) return this.#doFlush();
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  /** The worker is exiting: send what is waiting now (threads: postMessage still works here). */
  flushNow(): void {
    this.#doFlush();
  }

  /** The worker is exiting and cannot send any more (processes): what it had to say. */
  takeOutbox(): unknown[] {
    const batch = this.#outbox;
    this.#outbox = [];
    return batch;
  }

  #define(taskId: number, how: number, where: string, key: string): void {
    if (how === MODULE) {
      const known = lookupTask(where, key)?.fn; // its module is already loaded here
      if (known) {
        this.#fns[taskId] = known;
        return;
      }
      const loading = import(where).then(() => {
        const fn = lookupTask(where, key)?.fn;
        if (!fn) throw new TypeError(`module ${where} does not define a task named ${key} (is it exported through defineTasks?)`);
        return (this.#fns[taskId] = fn);
      }).catch((error: unknown) => {
        const failure = error instanceof Error ? error : new Error(String(error));
        this.#fns[taskId] = failure;
        throw failure;
      });
      loading.catch(() => {});
      this.#fns[taskId] = loading;
    } else {
      try {
        this.#fns[taskId] = compileSource(where);
      } catch (error) {
        this.#fns[taskId] = error instanceof Error ? error : new Error(String(error));
      }
    }
  }

  /**
   * Imports `url` before any call received from here on runs. A module that fails to load is not
   * fatal here: the calls that needed it fail with their own error (no handler for a Lock, ...).
   */
  #load(url: string, then?: (module: unknown) => void): void {
    const previous = this.#loading;
    const loading: Promise<void> = Promise.all([previous, import(url).then(then)]).then(() => {}, () => {}).finally(() => {
      if (this.#loading === loading) this.#loading = undefined;
    });
    this.#loading = loading;
  }

  #abort(seq: number, reason: unknown): void {
    if (this.#current?.seq === seq) this.#current.abort(reason);
    else if (seq > this.#finished) this.#aborted.set(seq, reason); // not started yet
  }

  /** Runs queued calls until one is asynchronous; its settlement resumes the loop. */
  #drain(): void {
    this.#running = true;
    let since = performance.now();
    for (;;) {
      if (this.#loading && this.#inbox.length > 0) {
        this.#loading.then(this.#next);
        return;
      }
      const call = this.#inbox.shift();
      if (!call) {
        // Work the pool sent while the last call ran (it double-buffers): take it now.
        const batch = this.#poll?.();
        if (!batch) break;
        this.#take(batch);
        continue;
      }
      // Aborted before it started: it still runs, with its signal already aborted, as a
      // cancelled running task would (to the caller it was running: it had been dispatched).
      if (this.#aborted.size > 0 && this.#aborted.has(call.seq)) {
        call.abort(this.#aborted.get(call.seq));
        this.#aborted.delete(call.seq);
      }
      Atomics.store(this.started, 0, call.seq);
      const fn = this.#fns[call.taskId];
      if (typeof fn !== 'function') {
        if (fn instanceof Error || fn === undefined) {
          this.#finished = call.seq;
          this.emit(ERR, call.seq, serializeError(fn ?? new Error(`task ${call.taskId} was never defined in this worker`)));
          continue;
        }
        // Its module is still loading: put the call back and resume once it has.
        this.#inbox.unshift(call);
        fn.then(this.#next, this.#next);
        return;
      }
      this.#current = call;
      let out: unknown;
      try {
        out = call.traceparent === undefined ? this.#invoke(call, fn) : this.#invokeTraced(call, fn);
      } catch (error) {
        this.#finish(call, ERR, serializeError(error));
        continue;
      }
      if (isPromiseLike(out)) {
        out.then(
          (value) => { this.#finish(call, OK, value); this.#drain(); },
          (error) => { this.#finish(call, ERR, serializeError(error)); this.#drain(); },
        );
        return;
      }
      this.#finish(call, OK, out);
      const now = performance.now();
      if (now - since >= FLUSH_AFTER_MS) {
        this.#doFlush();
        since = now;
      }
    }
    this.#running = false;
  }

  #invoke(call: Call, fn: Fn): unknown {
    if (call.op === CHUNK) {
      return invokeChunk(fn, call.args.map((list) => decodeArgs(list as unknown[], this.#kind, this.#parent)), call);
    }
    const args = decodeArgs(call.args, this.#kind, this.#parent); // ITEMS: each item is one argument
    return call.op === CALL ? invokeTask(fn, args, call, this.#onYield) : invokeChunk(fn, args, call, true, true);
  }

  /** A call sent with a trace carrier runs in a span under it (or passes it on, see propagate.ts). */
  #invokeTraced(call: Call, fn: Fn): unknown {
    this.#propagate?.();
    const h = hooks.current;
    if (!h) return this.#invoke(call, fn); // tracing support did not load
    call.scope = h.received(call, 'task', fn.name || 'anonymous', call.traceparent, {
      'messaging.destination.name': this.#kind, 'messaging.message.id': call.id, 'weft.task.attempt': call.attempt,
    });
    return h.within(call.scope, () => this.#invoke(call, fn));
  }

  #finish(call: Call, op: number, value: unknown): void {
    if (call.scope) call.scope.end(op === ERR ? errorOf(value) : undefined);
    this.#current = undefined;
    this.#finished = call.seq;
    this.emit(op, call.seq, value);
  }

  #doFlush(): void {
    this.#flushQueued = false; // a queued flush that finds the outbox empty sends nothing
    if (this.#outbox.length === 0) return;
    const batch = this.#outbox;
    const transfers = this.#transfers;
    this.#outbox = [];
    this.#transfers = undefined;
    try {
      this.#send(batch, transfers);
    } catch {
      this.#sendOneByOne(batch, transfers);
    }
  }

  /** Some value would not clone: send record by record, turning the bad ones into errors. */
  #sendOneByOne(batch: unknown[], transfers: Transferable[] | undefined): void {
    for (let i = 0; i < batch.length; i += 3) {
      const op = batch[i] as number;
      const seq = batch[i + 1] as number;
      try {
        this.#send([op, seq, batch[i + 2]], transfers);
      } catch (error) {
        if (op === PROGRESS) continue;
        const what = op === YIELD ? 'a value it yielded' : 'its result';
        const failure = new TypeError(`the task's ${op === ERR ? 'error' : what} could not be sent back from the worker: ${(error as Error).message}`);
        const data = op === ERR ? { ...(batch[i + 2] as object), props: undefined } : serializeError(failure);
        try {
          this.#send([ERR, seq, data], undefined);
        } catch {
          this.#send([ERR, seq, serializeError(failure)], undefined);
        }
      }
    }
  }
}

/** One call in a worker: its inbox entry and the TaskContext it runs with. */
class Call extends LazyAbortContext implements TaskContext {
  #runtime: WorkerRuntime;
  traceparent: string | undefined;
  scope: Scope | undefined;

  constructor(runtime: WorkerRuntime, readonly seq: number, readonly op: number, readonly taskId: number, readonly id: string, readonly attempt: number, readonly args: unknown[]) {
    super();
    this.#runtime = runtime;
  }

  progress(value: unknown): void {
    this.#runtime.emit(PROGRESS, this.seq, value);
  }
}

/** A serialized error as a span records it. */
function errorOf(value: unknown): Error {
  const data = value as { name?: unknown; message?: unknown } | undefined;
  return Object.assign(new Error(String(data?.message ?? 'the task failed')), { name: String(data?.name ?? 'Error') });
}

function reviveReason(name: string, message: string): Error {
  return name === 'TimeoutError' ? new TimeoutError(message) : new CancelledError(message);
}
