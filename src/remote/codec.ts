import { addExtension, Packr, RESERVE_START_SPACE } from 'msgpackr/index-no-eval';
import {
  AuthenticationError, BrokenExecutorError, CancelledError, ConnectionClosedError, InvalidStateError, ProtocolError,
  RemoteError, serializeError, TimeoutError, WeftError, type SerializedError,
} from '../core/errors.js';
import { BrokenBarrierError, ClosedError } from '../sync/errors.js';
import { expected } from '../core/validate.js';
import { checkBody } from './body-check.js';
import { HEADER_SIZE, writeHeader } from './frame.js';
import { DECLINED, fastPack } from './fast-pack.js';
import { DECLINED as DECLINED_BODY, fastUnpack } from './fast-unpack.js';
import { boxMaps, MapBox, opaqueClasses } from './map-box.js';

/**
 * Frame bodies are MessagePack, written and read by msgpackr's build without code generation:
 * nothing received becomes a Function. Plain objects are MessagePack maps; Set, Date, BigInt,
 * typed arrays, undefined and RegExp use msgpackr's extensions; docs/protocol.md lists them all.
 *
 * Four extensions are weft's own:
 *   0x6d  a Map, as [key, value, key, value, ...] (see map-box.ts)
 *   0x65  an Error, as serializeError() data; revived as the same weft error class when it is
 *         one of weft's (so a remote TimeoutError is a TimeoutError here), else as RemoteError
 *   0x01  an object the sender keeps and lends by reference: [id, methods, properties]
 *   0x02  a proxy sent back to the side that owns its object: id
 * References need a connection to live in; the codec reaches it through a RefContext that is
 * current only while one pack or unpack call runs (both are synchronous).
 *
 * Reading, a body of the common shapes is read by hand (fast-unpack.ts, which keeps the limits by
 * construction); any other is checked on its bytes before msgpackr reads it (body-check.ts):
 * nesting is bounded, keys that could reach Object.prototype through a merge hold scalars only,
 * forms weft never writes are refused; a body that fails is a ProtocolError and none of it is
 * read. What msgpackr writes gets the same check, so the sender learns first.
 */

/** What a connection does with objects that cross it by reference. */
export interface RefContext {
  /** Sender side: keeps `target` and returns its wire form. */
  exportRef(target: object): unknown;
  /** Receiver side: a proxy for a wire form made by the peer's exportRef. */
  importRef(data: unknown): object;
  /** Sender side: the peer's id of `proxy`, which must be a proxy of this connection. */
  proxyId(proxy: object): number;
  /** Receiver side: our own object that the peer sent back by id. */
  localRef(id: number): object;
}

/** Marks an object that must travel by reference: the receiver gets a proxy. */
export class ByRef<T extends object = object> {
  constructor(readonly target: T) {}
}

/** The class every proxy of a by-reference object is an instance of. */
export class RemoteObject {}

const EXT_MAP = 0x6d;
const EXT_ERROR = 0x65;
const EXT_REF = 0x01;
const EXT_REF_BACK = 0x02;

let current: RefContext | undefined;

function context(what: string): RefContext {
  if (!current) throw new TypeError(`${what} can only cross a connection that carries remote objects (an RPC connection)`);
  return current;
}

const refClasses = new Set<abstract new (...args: any[]) => object>();

/** Instances of `Class` always cross weft connections by reference, like values wrapped in byRef(). */
export function registerRemoteClass(Class: abstract new (...args: any[]) => object): void {
  if (typeof Class !== 'function') throw new TypeError(expected('Class', 'a class', Class));
  if (refClasses.has(Class)) return;
  refClasses.add(Class);
  addExtension({ Class, type: EXT_REF, write: (value: object) => context(`a ${Class.name}`).exportRef(value), read: importRef });
  opaqueClasses.push(Class);
}

function importRef(data: unknown): object {
  return context('a remote object').importRef(data);
}

// Registered in this order because msgpackr tries the newest extension first: a registered
// class that extends Error still goes by reference.
addExtension({
  Class: Error,
  type: EXT_ERROR,
  write: (error: Error) => serializeError(error),
  read: (data: unknown) => reviveError(data),
});
addExtension({
  Class: ByRef,
  type: EXT_REF,
  write: (value: ByRef) => context('byRef()').exportRef(value.target),
  read: importRef,
});
addExtension({
  Class: RemoteObject,
  type: EXT_REF_BACK,
  write: (proxy: RemoteObject) => context('a remote object proxy').proxyId(proxy),
  read: (id: unknown) => {
    if (typeof id !== 'number') throw new ProtocolError(`a returned reference must carry a numeric id, got ${typeof id}`);
    return context('a remote object').localRef(id);
  },
});

addExtension({
  Class: MapBox,
  type: EXT_MAP,
  write: (box: MapBox) => box.flatten(),
  read: (flat: unknown) => {
    if (!Array.isArray(flat) || flat.length % 2 !== 0) throw new ProtocolError('a Map must be sent as an array of alternating keys and values');
    const map = new Map<unknown, unknown>();
    for (let i = 0; i < flat.length; i += 2) map.set(flat[i], flat[i + 1]);
    return map;
  },
});
opaqueClasses.push(ByRef, RemoteObject);

const weftErrors: Record<string, new (message: string, options?: ErrorOptions) => WeftError> = {
  'weft:timeout': TimeoutError,
  'weft:cancelled': CancelledError,
  'weft:invalid-state': InvalidStateError,
  'weft:broken-executor': BrokenExecutorError,
  'weft:auth': AuthenticationError,
  'weft:protocol': ProtocolError,
  'weft:connection-closed': ConnectionClosedError,
  'weft:closed': ClosedError,
  'weft:broken-barrier': BrokenBarrierError,
};

/**
 * An error that came over the wire. weft's own errors come back as their own class with the
 * remote original as `cause` (so `instanceof TimeoutError` holds across hosts); anything else is
 * a RemoteError keeping the remote name, message, stack, cause and own properties.
 */
export function reviveError(data: unknown): Error {
  if (!isSerializedError(data)) {
    return new RemoteError({ name: 'Error', message: `the peer sent a malformed error: ${describeShape(data)}` });
  }
  const remote = new RemoteError(data);
  const WeftClass = typeof data.code === 'string' ? weftErrors[data.code] : undefined;
  if (WeftClass && WeftClass.name === data.name) return new WeftClass(data.message, { cause: remote });
  return remote;
}

function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== 'object' || value === null) return false;
  const data = value as SerializedError;
  return typeof data.name === 'string' && typeof data.message === 'string'
    && (data.stack === undefined || typeof data.stack === 'string')
    && (data.props === undefined || (typeof data.props === 'object' && data.props !== null));
}

function describeShape(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

const PACKR_OPTIONS = {
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: true,
  int64AsType: 'bigint' as const,
  // weft neither writes nor reads msgpackr's structured-clone references (which can build cycles).
  structuredClone: false,
  // Binary values are copied out of the bytes being read: those bytes are a scratch buffer that
  // the next frame overwrites (see Codec.decode), or a socket chunk that a view would pin.
  copyBuffers: true,
  // msgpackr would write a function as undefined: a value silently lost on the way.
  // (msgpackr's typings declare no parameter; it passes the function.)
  writeFunction: (...args: unknown[]) => {
    const name = (args[0] as { name?: string } | undefined)?.name || 'anonymous';
    throw new TypeError(`a function (${name}) cannot be sent; send data, or lend an object with byRef()`);
  },
};

/**
 * Bodies up to this size are copied into the codec's scratch buffer before they are read. msgpackr
 * caches a DataView on the buffer it reads, and reads strings through its fastest paths only near
 * the start of a buffer: a body read in place costs a Buffer and a DataView whenever the socket's
 * memory changes (a fresh chunk per 'data' event) and slower string reads deep in a buffer, while
 * copying 4 KiB or less into the same scratch costs a memcpy.
 */
const SCRATCH_SIZE = 4096;

/**
 * Frames fastPack writes are views of a slab of this size, like Node's buffer pool but without a
 * copy: a frame is written in place, then the slab moves on past it. A slab with less than
 * SLAB_MIN_ROOM left is replaced before a frame is written, so a frame that fastPack declines
 * for size alone is larger than SLAB_MIN_ROOM - HEADER_SIZE bytes, and msgpackr writes it.
 */
const SLAB_SIZE = 64 * 1024;
const SLAB_MIN_ROOM = 8 * 1024;

/**
 * One side of a connection's body encoding. Each connection has its own, so that references
 * resolve against that connection's tables.
 */
export class Codec {
  #packr = new Packr(PACKR_OPTIONS);
  #refs: RefContext | undefined;
  /** The memory a large body was last read from in place, and the view msgpackr reads it through. */
  #chunk: ArrayBufferLike | undefined;
  #chunkView: Buffer | undefined;
  #scratch = Buffer.allocUnsafeSlow(SCRATCH_SIZE);
  /** Where fastPack writes frames; each frame is a view of it, so the slab lives while one does. */
  #slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
  #slabUsed = 0;
  /** True while the scratch buffer is being read, so a nested decode takes the other path. */
  #reading = false;

  constructor(refs?: RefContext) {
    this.#refs = refs;
  }

  set refs(refs: RefContext | undefined) {
    this.#refs = refs;
  }

  /** A whole frame: header, then `value` as MessagePack, in one buffer. */
  encodeFrame(type: number, id: number, value: unknown): Buffer {
    // The common small shapes are written by hand straight into the codec's slab, and the frame
    // is a view of it; a value fastPack declines goes through msgpackr whole.
    if (this.#slab.length - this.#slabUsed < SLAB_MIN_ROOM) {
      this.#slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      this.#slabUsed = 0;
    }
    const start = this.#slabUsed;
    const end = fastPack(value, this.#slab, start + HEADER_SIZE);
    if (end !== DECLINED) {
      // Frames start 8-aligned, as Node's own buffer pool does.
      this.#slabUsed = (end + 7) & ~7;
      return writeHeader(this.#slab.subarray(start, end), type, id);
    }
    const previous = current;
    current = this.#refs;
    let frame: Buffer;
    try {
      frame = this.#packr.pack(boxMaps(value), RESERVE_START_SPACE | HEADER_SIZE);
    } finally {
      current = previous;
    }
    // What the receiver would refuse is refused here, where the caller can see why.
    const problem = checkBody(frame, HEADER_SIZE, frame.length);
    if (problem !== undefined) throw new TypeError(`this value cannot be sent: it ${problem}`);
    return writeHeader(frame, type, id);
  }

  /** `value` alone as MessagePack, without a frame header (a view: valid as long as kept). */
  encode(value: unknown): Buffer {
    return this.encodeFrame(0, 0, value).subarray(HEADER_SIZE);
  }

  /**
   * The value in a frame body; throws ProtocolError when it is not valid MessagePack or breaks a
   * limit of body-check.ts (nesting, unsafe keys), in which case nothing of it was read.
   */
  decode(body: Buffer): unknown {
    if (body.length === 0) return undefined;
    const fast = fastUnpack(body);
    if (fast !== DECLINED_BODY) return fast;
    const problem = checkBody(body, 0, body.length);
    if (problem !== undefined) throw new ProtocolError(`a frame body ${problem}`);
    const previous = current;
    current = this.#refs;
    try {
      if (body.length <= SCRATCH_SIZE && !this.#reading) {
        this.#scratch.set(body);
        this.#reading = true;
        try {
          return this.#packr.unpack(this.#scratch, body.length);
        } finally {
          this.#reading = false;
        }
      }
      // A large body is read in place, through one view over the whole memory (made once per memory).
      const memory = body.buffer;
      if (memory !== this.#chunk) {
        this.#chunk = memory;
        this.#chunkView = Buffer.from(memory);
      }
      return this.#packr.unpack(this.#chunkView!, { start: body.byteOffset, end: body.byteOffset + body.length });
    } catch (error) {
      if (error instanceof WeftError) throw error;
      throw new ProtocolError(`a frame body is not valid MessagePack: ${(error as Error).message}`, { cause: error });
    } finally {
      current = previous;
    }
  }
}
