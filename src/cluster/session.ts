import { ProtocolError } from '../core/errors.js';
import { Codec } from '../remote/codec.js';
import type { Connection } from '../remote/connection.js';
import { HEADER_SIZE } from '../remote/frame.js';
import type { Lease, Member, TaskDef, WorkerLink } from './membership.js';
import {
  CALL, CALL_WIDTH, CANCEL, CANCEL_WIDTH, CHUNK, checkDrainWorker, checkJoin, checkRevoke, ClusterFrame, DEF, DEF_WIDTH, TRACE, TRACE_WIDTH,
  type StatusReply, type StatusRequest, type WelcomeMessage,
} from './protocol.js';
import type { Scheduler } from './scheduler.js';
import { hooks } from '../observe/hooks.js';

/**
 * The scheduler's end of one authenticated connection. The first frame says what the peer is:
 * JOIN makes it a worker (a Member of the scheduler), STATUS, REVOKE or DRAIN_WORKER a client (the CLI, the
 * dashboard) that may ask again on the same connection. Outgoing work is
 * collected in one flat array and leaves as one WORK frame per tick, however many calls.
 */
export interface SessionSettings {
  heartbeatInterval: number;
  leaseTimeout: number;
  status(request: StatusRequest): StatusReply;
  /** Cancels the future `id` if a worker runs it; false when none does. */
  revoke(id: string): boolean;
  /** The scheduler sends worker `id` nothing new; false when no such worker is connected. */
  drainWorker(id: number): boolean;
  /** A job whose arguments could not be encoded fails with `error`. */
  failLease(lease: Lease, error: Error): void;
}

export class WorkerSession implements WorkerLink {
  readonly #connection: Connection;
  readonly #scheduler: Scheduler;
  readonly #settings: SessionSettings;
  readonly #codec = new Codec();
  #member: Member | undefined;
  #out: unknown[] = [];
  /** The leases of the CALL/CHUNK records in #out, in order, for the rare per-record fallback. */
  #outLeases: Lease[] = [];
  #flushQueued = false;
  #flush = () => this.#doFlush();

  constructor(connection: Connection, scheduler: Scheduler, settings: SessionSettings) {
    this.#connection = connection;
    this.#scheduler = scheduler;
    this.#settings = settings;
    connection.onClose((error) => {
      if (this.#member) this.#scheduler.leave(this.#member, `its connection closed: ${error.message}`);
    });
    connection.start((type, id, body) => this.#receive(type, id, body));
  }

  // ---- WorkerLink ---------------------------------------------------------------------------

  define(taskId: number, def: TaskDef): void {
    this.#queue(DEF, taskId, def.name, def.moduleUrl, def.key, def.source ?? null);
  }

  run(lease: Lease, taskId: number, timeout: number): void {
    const job = lease.job;
    this.#outLeases.push(lease);
    // map's items travel as argument lists: the cluster protocol has one chunk shape.
    const args = job.kind === 'items' ? job.args.map((item) => [item]) : job.args;
    const trace = hooks.current?.carrierOf(job);
    if (trace !== undefined) this.#queue(TRACE, trace);
    this.#queue(job.kind === 'call' ? CALL : CHUNK, lease.id, taskId, job.id, lease.attempt, timeout, args);
  }

  cancel(leaseId: number, reason: Error): void {
    this.#queue(CANCEL, leaseId, reason?.name ?? 'CancelledError', reason?.message ?? 'cancelled');
  }

  close(reason: string): void {
    this.#connection.close(reason);
  }

  // ---- receiving ----------------------------------------------------------------------------

  #receive(type: number, id: number, body: Buffer): void {
    const value = this.#codec.decode(body);
    const member = this.#member;
    if (!member) return this.#opening(type, id, value);
    this.#scheduler.heard(member);
    if (type === ClusterFrame.DONE) {
      if (!Array.isArray(value)) throw new ProtocolError('a DONE frame must carry an array of records');
      this.#scheduler.settle(member, value);
    } else if (type === ClusterFrame.DRAIN) {
      this.#scheduler.drain(member);
    } else if (type !== ClusterFrame.HEARTBEAT) {
      throw new ProtocolError(`unexpected frame type 0x${type.toString(16)} from a worker`);
    }
  }

  #opening(type: number, id: number, value: unknown): void {
    if (type === ClusterFrame.STATUS) {
      const request = (typeof value === 'object' && value !== null ? value : {}) as { tasks?: unknown };
      this.#connection.send(this.#codec.encodeFrame(ClusterFrame.STATUS_REPLY, id, this.#settings.status({ tasks: request.tasks === true })));
      return;
    }
    if (type === ClusterFrame.REVOKE) {
      this.#connection.send(this.#codec.encodeFrame(ClusterFrame.REVOKE_REPLY, id, { revoked: this.#settings.revoke(checkRevoke(value)) }));
      return;
    }
    if (type === ClusterFrame.DRAIN_WORKER) {
      this.#connection.send(this.#codec.encodeFrame(ClusterFrame.DRAIN_REPLY, id, { drained: this.#settings.drainWorker(checkDrainWorker(value)) }));
      return;
    }
    if (type !== ClusterFrame.JOIN) throw new ProtocolError(`expected JOIN, STATUS, REVOKE or DRAIN_WORKER to open a cluster session, got type 0x${type.toString(16)}`);
    let join;
    try {
      join = checkJoin(value);
    } catch (error) {
      throw new ProtocolError((error as Error).message);
    }
    // WELCOME goes first: the member's first work (on join) is queued behind it.
    this.#connection.send(this.#codec.encodeFrame(ClusterFrame.WELCOME, 0, {
      workerId: 0,
      heartbeatInterval: this.#settings.heartbeatInterval,
      leaseTimeout: this.#settings.leaseTimeout,
    } satisfies WelcomeMessage));
    this.#member = this.#scheduler.join(join, this);
  }

  // ---- sending ------------------------------------------------------------------------------

  #queue(...record: unknown[]): void {
    for (const field of record) this.#out.push(field);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  #doFlush(): void {
    this.#flushQueued = false;
    const out = this.#out;
    const leases = this.#outLeases;
    this.#out = [];
    this.#outLeases = [];
    if (!this.#connection.isOpen || out.length === 0) return;
    let frame: Buffer | undefined;
    try {
      frame = this.#codec.encodeFrame(ClusterFrame.WORK, 0, out);
    } catch {
      frame = undefined;
    }
    if (frame && frame.length - HEADER_SIZE <= this.#connection.peerLimits.maxFrameSize) this.#connection.send(frame);
    else this.#sendEach(out, leases);
  }

  /**
   * The batch would not encode (an argument MessagePack cannot carry) or is too big for the
   * worker: send record by record and fail only the calls that cannot go.
   */
  #sendEach(out: unknown[], leases: Lease[]): void {
    let call = 0;
    for (let i = 0; i < out.length;) {
      const op = out[i];
      const width = op === DEF ? DEF_WIDTH : op === CANCEL ? CANCEL_WIDTH : op === TRACE ? TRACE_WIDTH : CALL_WIDTH;
      const record = out.slice(i, i + width);
      i += width;
      const lease = op === CALL || op === CHUNK ? leases[call++] : undefined;
      let problem: string;
      try {
        const frame = this.#codec.encodeFrame(ClusterFrame.WORK, 0, record);
        if (frame.length - HEADER_SIZE <= this.#connection.peerLimits.maxFrameSize) {
          this.#connection.send(frame);
          continue;
        }
        problem = `${frame.length - HEADER_SIZE} bytes exceed the worker's frame limit of ${this.#connection.peerLimits.maxFrameSize}`;
      } catch (error) {
        problem = (error as Error).message;
      }
      if (!lease) continue;
      this.#settings.failLease(lease, new TypeError(`the arguments of task future ${lease.job.id} could not be sent to a worker: ${problem}`));
    }
  }
}
