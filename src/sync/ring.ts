import { InvalidStateError, TimeoutError } from '../core/errors.js';
import { checkWaitOptions, remaining, waitWord, type CheckedWait, type WaitOptions } from './atomic-wait.js';
import { ClosedError } from './errors.js';
import { decodeItem, encodeBatch, encodeItem, encoded, isViewTag, newView, takeEncoded, type EncodedBatch } from './item-codec.js';
import { acquireWord, releaseWord } from './lock.js';

/**
 * The storage of Queue and Pipe: a ring of encoded items in shared memory, so that any number
 * of threads put and get directly, with no thread owning the queue.
 *
 * Why not a MessageChannel: a port has exactly one receiving end and can be transferred only
 * once, so it cannot give several consumer threads one queue, nor count its items, nor make a
 * producer wait on a bound. Shared memory does all three; items keep the types postMessage
 * would give them (see item-codec.ts).
 *
 *   producer threads                    control (Int32Array)                    consumer threads
 *   put(item) ─ encode ─▶ [PUT_LOCK] ─▶ data: … [len:u32][tag][payload] … ─▶ [GET_LOCK] ─ decode ─▶ get()
 *                 writes at TAIL, counts PUT_COUNT     reads at HEAD, counts TAKEN, BYTES_TAKEN
 *
 * One lock per side: producers contend only with producers, consumers only with consumers, so
 * one producer and one consumer never wait for each other's lock (on a busy machine a lock
 * holder that is descheduled used to stall the other side). Each side only counts up its own
 * words (wrapping int32s; items and bytes in the ring are differences) and reads the other's
 * with Atomics (sequentially consistent):
 * - a put writes its record's bytes at TAIL, in room it owns (its bytes put minus the bytes
 *   taken it last read), then adds one to PUT_COUNT, which publishes the bytes;
 * - a get that sees PUT_COUNT ahead of TAKEN copies the record at HEAD out, then adds to
 *   BYTES_TAKEN and TAKEN, which hands the bytes back to the producers.
 * Each side keeps the other's count as last read (SEEN_*) and reads it again only when that
 * says empty (or full): one producer and one consumer running apart touch each other's cache
 * line once a batch, not once an item. A stale count only ever errs on the safe side.
 * Growing the buffer moves bytes the consumers read: the producer that grows holds both locks
 * (always PUT_LOCK first; a consumer never takes PUT_LOCK while it holds GET_LOCK).
 *
 * Waiting for an item (or for room), without lost wake-ups: a getter counts itself in
 * GET_WAITERS, reads the NOT_EMPTY seq, checks PUT_COUNT again, lets go of its lock and waits on
 * the seq; a put that finds GET_WAITERS > 0 after publishing moves the seq on and notifies one.
 * Both sides write, then read the other's word, all seq-cst, so one of them sees the other: the
 * getter sees the item, or the put sees the waiter (whose wait then returns at once). A waiter
 * that leaves without taking (timeout, abort) passes a wake-up on to the next waiter. NOT_FULL
 * and PUT_WAITERS work the same way for bounded rings.
 *
 * Cost of an uncontended put + get of a number: per side one compareExchange to lock, one or
 * two atomic writes of its own counts, one exchange to unlock, one load of the other side's
 * waiters, no notify while nobody waits; no allocation on the put side, one resolved promise
 * on the get side; encoding a number is one setFloat64. An object adds msgpack (see
 * plain-pack.ts) or v8.serialize.
 *
 * The data buffer starts small and doubles up to `maxBytes` (see #grow).
 */
/*
 * The control words, laid out on separate 64-byte cache lines by who writes them, so that a
 * producer's lock and TAIL do not bounce between cores with every get (and the reverse):
 * producers' words, consumers' words, the two counts both change per item, and the words that
 * change only on close, growth or sleep.
 */
const LINE = 16;
// Producers' words (under PUT_LOCK).
const PUT_LOCK = 0;
/** Where the next record goes. */
const TAIL = 1;
/** Items ever put (wrapping): published with Atomics. */
const PUT_COUNT = 2;
/** Bytes of records ever put, headers included (wrapping). */
const BYTES_PUT = 3;
/** TAKEN and BYTES_TAKEN as the producers last read them. */
const SEEN_TAKEN = 4;
const SEEN_BYTES_TAKEN = 5;
// Consumers' words (under GET_LOCK).
const GET_LOCK = LINE;
/** Where the oldest record starts. */
const HEAD = LINE + 1;
/** Items ever taken and their bytes (wrapping): published with Atomics. */
const TAKEN = LINE + 2;
const BYTES_TAKEN = LINE + 3;
/** PUT_COUNT as the consumers last read it. */
const SEEN_PUT = LINE + 4;
const CLOSED = 3 * LINE;
const MAXSIZE = 3 * LINE + 1;
/** Bytes of the data buffer in use (changed under both locks): a thread whose view is shorter makes a new one. */
const CAPACITY = 3 * LINE + 2;
const GET_WAITERS = 3 * LINE + 3;
const PUT_WAITERS = 3 * LINE + 4;
const NOT_EMPTY = 3 * LINE + 5;
const NOT_FULL = 3 * LINE + 6;
const CONTROL_WORDS = 4 * LINE;

/** The u32 length and the tag byte in front of each payload. */
const HEADER_BYTES = 5;
/** Start small: most queues hold a few small items; the buffer doubles when needed. */
const INITIAL_BYTES = 4096;
/** Default cap of the data buffer: address space reserved up front, memory used only when grown. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/**
 * Tries at a lock before waiting for it asynchronously. A holder keeps it for a copy of a few
 * bytes, so spinning is usually over in well under a microsecond; a waitAsync wake-up costs
 * tens. Bounded, because the holder's thread may have been descheduled.
 */
const LOCK_SPINS = 200;
/** Payloads up to this many bytes are copied byte by byte: cheaper than making subarrays. */
const SMALL_COPY = 32;

const RESOLVED = Promise.resolve();

/** Per-thread scratch the critical section copies a payload into, decoded after the lock is let go. */
let readScratch = Buffer.allocUnsafeSlow(4096);
/** Larger payloads get a buffer of their own, dropped after decoding. */
const MAX_READ_SCRATCH = 1024 * 1024;

export interface SharedRing {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

type PutOutcome = 'done' | 'closed' | 'full' | 'grow';

export class Ring {
  readonly #control: Int32Array;
  readonly #dataBuffer: SharedArrayBuffer;
  readonly #maxBytes: number;
  /**
   * A fixed-length view of the buffer's current bytes: V8 reads and writes a length-tracking
   * view of a growable buffer about four times slower per element.
   */
  #data: Uint8Array;

  /** A new ring (maxsize 0: unbounded), or one over `shared` memory. */
  constructor(maxsize: number, maxBytes: number, shared?: SharedRing) {
    if (shared) {
      this.#control = new Int32Array(shared.control);
      this.#dataBuffer = shared.data;
    } else {
      this.#control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
      this.#control[MAXSIZE] = maxsize;
      this.#dataBuffer = new SharedArrayBuffer(Math.min(INITIAL_BYTES, maxBytes), { maxByteLength: maxBytes });
      this.#control[CAPACITY] = this.#dataBuffer.byteLength;
    }
    this.#maxBytes = this.#dataBuffer.maxByteLength;
    this.#data = new Uint8Array(this.#dataBuffer, 0, Atomics.load(this.#control, CAPACITY));
  }

  get shared(): SharedRing {
    return { control: this.#control.buffer as SharedArrayBuffer, data: this.#dataBuffer };
  }

  get size(): number {
    const control = this.#control;
    const taken = Atomics.load(control, TAKEN);
    return Math.max(0, (Atomics.load(control, PUT_COUNT) - taken) | 0);
  }

  get maxsize(): number {
    return this.#control[MAXSIZE]!;
  }

  get closed(): boolean {
    return Atomics.load(this.#control, CLOSED) === 1;
  }

  /** Appends `item`; waits while a bounded ring is full. `what` names the caller in errors. */
  put(item: unknown, options: WaitOptions | undefined, what: string): Promise<void> {
    let wait: CheckedWait;
    try {
      wait = checkWaitOptions(options);
      encodeItem(item, what);
      this.#checkFits(encoded.length, what);
    } catch (error) {
      return Promise.reject(error);
    }
    // Fast path: the producers' lock is free (or soon), the ring is open and has room.
    const control = this.#control;
    if (wait.deadline === Infinity && !wait.signal && spinLock(control, PUT_LOCK)) {
      const outcome = this.#putLocked(encoded.tag, encoded.payload, 0, encoded.length);
      releaseWord(control, PUT_LOCK);
      if (outcome === 'done') {
        wakeWaiter(control, NOT_EMPTY, GET_WAITERS, 1);
        return RESOLVED;
      }
      if (outcome === 'closed') return Promise.reject(new ClosedError(`${what}: the queue is closed`));
    }
    const record = takeEncoded();
    return this.#putWaiting({ bytes: record, starts: [0, record.length] }, wait, what);
  }

  /**
   * Appends `items` in order under as few holds of the producers' lock as there is room for
   * (one when it all fits), with one wake-up of the getters per hold; on a bounded ring, waits
   * for room as put does. Every item is encoded first, so one that cannot be sent refuses the
   * batch. A close, timeout or abort part-way leaves the first items in (a close's or timeout's
   * error says how many).
   */
  putMany(items: readonly unknown[], options: WaitOptions | undefined, what: string): Promise<void> {
    let wait: CheckedWait;
    let batch: EncodedBatch;
    try {
      wait = checkWaitOptions(options);
      batch = encodeBatch(items, what, (length) => this.#checkFits(length, what));
    } catch (error) {
      return Promise.reject(error);
    }
    if (items.length === 0) return RESOLVED;
    return this.#putWaiting(batch, wait, what);
  }

  /** Takes the oldest item; waits while the ring is empty; ClosedError once closed and drained. */
  get(options: WaitOptions | undefined, what: string): Promise<unknown> {
    return this.#take(undefined, options, what);
  }

  /**
   * Takes the oldest items, at least one and at most `max`, under one hold of the lock (one
   * promise, one wake-up of the putters for all of them); waits like get while there is none.
   */
  getMany(max: number, options: WaitOptions | undefined, what: string): Promise<unknown[]> {
    return this.#take(max, options, what) as Promise<unknown[]>;
  }

  /** get (max undefined: one item) and getMany (up to max items, as an array). */
  #take(max: number | undefined, options: WaitOptions | undefined, what: string): Promise<unknown> {
    let wait: CheckedWait;
    try {
      wait = checkWaitOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    // No spinning for an item on an empty ring before sleeping: measured on a busy 2-core
    // machine, a spinning getter took the CPU from the very producer it waited for (Pipe round
    // trips 3x slower, no throughput gained).
    const control = this.#control;
    if (wait.deadline === Infinity && !wait.signal && spinLock(control, GET_LOCK)) {
      if (available(control) > 0) return Promise.resolve(max === undefined ? this.#takeLocked() : this.#takeManyLocked(max));
      releaseWord(control, GET_LOCK);
    }
    return this.#getWaiting(wait, what, max);
  }

  /** No more puts; getters drain what is left, then get ClosedError. Waiters wake now. */
  close(): void {
    const control = this.#control;
    if (Atomics.exchange(control, CLOSED, 1) === 1) return;
    Atomics.add(control, NOT_EMPTY, 1);
    Atomics.add(control, NOT_FULL, 1);
    Atomics.notify(control, NOT_EMPTY);
    Atomics.notify(control, NOT_FULL);
  }

  /** The waiting put of a batch of records (one for put), in order, from the first not yet in. */
  async #putWaiting({ bytes, starts }: EncodedBatch, { timeout, deadline, signal }: CheckedWait, what: string): Promise<void> {
    const control = this.#control;
    const count = starts.length - 1;
    let next = 0;
    const partly = () => (count > 1 ? ` (the first ${next} of ${count} items went in)` : '');
    for (;;) {
      await lock(control, PUT_LOCK);
      if (signal?.aborted) {
        releaseWord(control, PUT_LOCK);
        leaveWaiting(control, NOT_FULL, PUT_WAITERS);
        throw signal.reason;
      }
      const first = next;
      // Lets go of the lock, then wakes getters for the items this hold put in.
      const letGo = () => {
        releaseWord(control, PUT_LOCK);
        wakeWaiter(control, NOT_EMPTY, GET_WAITERS, next - first);
      };
      let outcome: PutOutcome = 'done';
      try {
        for (; next < count; next++) {
          const at = starts[next]!;
          const length = starts[next + 1]! - at - 1;
          outcome = this.#putLocked(bytes[at]!, bytes, at + 1, length);
          if (outcome === 'grow') {
            // Both locks: no consumer reads while bytes move.
            await lock(control, GET_LOCK);
            try {
              this.#grow(((control[BYTES_PUT]! - Atomics.load(control, BYTES_TAKEN)) | 0) + HEADER_BYTES + length);
            } finally {
              releaseWord(control, GET_LOCK);
            }
            outcome = this.#putLocked(bytes[at]!, bytes, at + 1, length);
          }
          if (outcome !== 'done') break;
        }
      } catch (error) {
        // A buffer that cannot grow: fail this put, not every thread behind the locks.
        letGo();
        throw error;
      }
      if (next === count) {
        letGo();
        return;
      }
      if (outcome === 'closed') {
        letGo();
        throw new ClosedError(`${what}: the queue is closed${partly()}`);
      }
      if (remaining(deadline) === 0) {
        letGo();
        leaveWaiting(control, NOT_FULL, PUT_WAITERS);
        throw new TimeoutError(`${what} timed out after ${timeout} ms: the queue stayed full (${this.size} items)${partly()}`);
      }
      // Full: count in as a waiter, then look again (a get may have made room since).
      Atomics.add(control, PUT_WAITERS, 1);
      const seq = Atomics.load(control, NOT_FULL);
      const again = this.#roomFor(starts[next + 1]! - starts[next]! - 1, true) || Atomics.load(control, CLOSED) === 1;
      letGo();
      if (!again) await sleep(control, NOT_FULL, seq, deadline, signal);
      Atomics.sub(control, PUT_WAITERS, 1);
    }
  }

  /** The waiting get: one item, or (`many` > 0) an array of 1 to `many` items. */
  async #getWaiting({ timeout, deadline, signal }: CheckedWait, what: string, many = 0): Promise<unknown> {
    const control = this.#control;
    for (;;) {
      await lock(control, GET_LOCK);
      if (signal?.aborted) {
        releaseWord(control, GET_LOCK);
        leaveWaiting(control, NOT_EMPTY, GET_WAITERS);
        throw signal.reason;
      }
      if (available(control) > 0) return many > 0 ? this.#takeManyLocked(many) : this.#takeLocked();
      if (Atomics.load(control, CLOSED) === 1) {
        releaseWord(control, GET_LOCK);
        // A put that saw the ring open may still be writing: once the producers' lock has been
        // free, every put either published its item or saw CLOSED.
        await lock(control, PUT_LOCK);
        releaseWord(control, PUT_LOCK);
        if (this.size > 0) continue;
        throw new ClosedError(`${what}: the queue is closed and empty`);
      }
      if (remaining(deadline) === 0) {
        releaseWord(control, GET_LOCK);
        leaveWaiting(control, NOT_EMPTY, GET_WAITERS);
        throw new TimeoutError(`${what} timed out after ${timeout} ms: the queue stayed empty`);
      }
      // Empty: count in as a waiter, then look again (a put may have published since).
      Atomics.add(control, GET_WAITERS, 1);
      const seq = Atomics.load(control, NOT_EMPTY);
      const again = Atomics.load(control, PUT_COUNT) !== control[TAKEN] || Atomics.load(control, CLOSED) === 1;
      releaseWord(control, GET_LOCK);
      if (!again) await sleep(control, NOT_EMPTY, seq, deadline, signal);
      Atomics.sub(control, GET_WAITERS, 1);
    }
  }

  #checkFits(length: number, what: string): void {
    const max = this.#maxBytes;
    if (HEADER_BYTES + length > max) {
      throw new RangeError(`${what}: an item of ${length + 1} serialised bytes does not fit in a queue of at most ${max} bytes (raise maxBytes)`);
    }
  }

  /**
   * Under the producers' lock: room for a payload of `length` bytes within maxsize and maxBytes
   * (the buffer may have to grow). Reads the consumers' counts again only when the ones last
   * seen say no (or `fresh`).
   */
  #roomFor(length: number, fresh = false): boolean {
    const control = this.#control;
    if (fresh) seeTaken(control);
    for (let looked = fresh; ; looked = true) {
      const maxsize = control[MAXSIZE]!;
      if ((maxsize === 0 || ((control[PUT_COUNT]! - control[SEEN_TAKEN]!) | 0) < maxsize) && usedBytes(control) + HEADER_BYTES + length <= this.#maxBytes) return true;
      if (looked) return false;
      seeTaken(control);
    }
  }

  /** The data view, renewed if another thread has grown the buffer (under either lock). */
  #view(): Uint8Array {
    const capacity = Atomics.load(this.#control, CAPACITY);
    if (this.#data.length !== capacity) this.#data = new Uint8Array(this.#dataBuffer, 0, capacity);
    return this.#data;
  }

  // ---- under the producers' lock ------------------------------------------------------------

  /** Writes and publishes one record if the ring is open and has room; the caller lets go of the lock. */
  #putLocked(tag: number, payload: Uint8Array, from: number, length: number): PutOutcome {
    const control = this.#control;
    if (Atomics.load(control, CLOSED) === 1) return 'closed';
    if (!this.#roomFor(length)) return 'full';
    const need = HEADER_BYTES + length;
    const data = this.#view();
    const capacity = data.length;
    if (usedBytes(control) + need > capacity) {
      seeTaken(control);
      if (usedBytes(control) + need > capacity) return 'grow';
    }
    let at = control[TAIL]!;
    // Header: length (little-endian u32) and tag, byte by byte: they may wrap.
    const total = length + 1;
    data[at] = total;
    at = at + 1 === capacity ? 0 : at + 1;
    data[at] = total >>> 8;
    at = at + 1 === capacity ? 0 : at + 1;
    data[at] = total >>> 16;
    at = at + 1 === capacity ? 0 : at + 1;
    data[at] = total >>> 24;
    at = at + 1 === capacity ? 0 : at + 1;
    data[at] = tag;
    at = at + 1 === capacity ? 0 : at + 1;
    copyIn(data, payload, from, length, at);
    at += length;
    control[TAIL] = at >= capacity ? at - capacity : at;
    control[BYTES_PUT] = (control[BYTES_PUT]! + need) | 0;
    Atomics.add(control, PUT_COUNT, 1);
    return 'done';
  }

  /**
   * Under both locks: grows the buffer to at least `atLeast` bytes (doubling). A ring that wraps
   * moves its wrapped start to just past the old end (room a doubling always leaves); one that
   * does not wrap moves nothing.
   */
  #grow(atLeast: number): void {
    const control = this.#control;
    const oldCapacity = this.#view().length;
    if (atLeast <= oldCapacity) return;
    const size = Math.min(this.#maxBytes, Math.max(atLeast, oldCapacity * 2));
    if (!this.#dataBuffer.growable) throw new InvalidStateError('the queue buffer cannot grow');
    this.#dataBuffer.grow(size);
    Atomics.store(control, CAPACITY, size);
    const data = this.#view();
    const head = control[HEAD]!;
    const used = (control[BYTES_PUT]! - Atomics.load(control, BYTES_TAKEN)) | 0;
    const wrapped = head + used - oldCapacity;
    if (wrapped <= 0) {
      control[TAIL] = head + used;
      return;
    }
    if (oldCapacity + wrapped <= size) {
      data.copyWithin(oldCapacity, 0, wrapped);
      control[TAIL] = oldCapacity + wrapped;
      return;
    }
    // Capped by maxBytes short of doubling: straighten the ring to start at 0 instead.
    const live = new Uint8Array(used);
    copyOut(data, head, used, live, oldCapacity);
    data.set(live, 0);
    control[HEAD] = 0;
    control[TAIL] = used;
  }

  // ---- under the consumers' lock ------------------------------------------------------------

  /** Takes the oldest record (there is one), lets go of the lock, and decodes it. */
  #takeLocked(): unknown {
    const control = this.#control;
    const data = this.#view();
    const capacity = data.length;
    let at = control[HEAD]!;
    let total = data[at]!;
    at = at + 1 === capacity ? 0 : at + 1;
    total |= data[at]! << 8;
    at = at + 1 === capacity ? 0 : at + 1;
    total |= data[at]! << 16;
    at = at + 1 === capacity ? 0 : at + 1;
    total |= data[at]! << 24;
    at = at + 1 === capacity ? 0 : at + 1;
    const tag = data[at]!;
    at = at + 1 === capacity ? 0 : at + 1;
    const length = total - 1;
    let view: ArrayBufferView | undefined;
    if (length > MAX_READ_SCRATCH && isViewTag(tag)) {
      // Large: straight into the result's own (off-heap) buffer, one copy.
      view = newView(tag, length);
      copyOut(data, at, length, new Uint8Array(view.buffer, view.byteOffset, length), capacity);
    } else {
      if (length > readScratch.length) readScratch = Buffer.allocUnsafeSlow(length <= MAX_READ_SCRATCH ? Math.max(length, readScratch.length * 2) : length);
      copyOut(data, at, length, readScratch, capacity);
    }
    at += length;
    control[HEAD] = at >= capacity ? at - capacity : at;
    // Bytes first: a producer that sees the item gone finds its bytes gone too.
    Atomics.store(control, BYTES_TAKEN, (control[BYTES_TAKEN]! + HEADER_BYTES + length) | 0);
    Atomics.store(control, TAKEN, (control[TAKEN]! + 1) | 0);
    releaseWord(control, GET_LOCK);
    wakeWaiter(control, NOT_FULL, PUT_WAITERS, 1);
    const bytes = readScratch;
    // One huge item does not keep its scratch alive in this thread.
    if (bytes.length > MAX_READ_SCRATCH) readScratch = Buffer.allocUnsafeSlow(MAX_READ_SCRATCH);
    return view ?? decodeItem(tag, bytes, length);
  }

  /**
   * Takes up to `max` records (there is one at least): their payloads are copied into this
   * thread's scratch at 8-byte aligned offsets, the lock is let go, then each is decoded.
   */
  #takeManyLocked(max: number): unknown[] {
    const control = this.#control;
    const data = this.#view();
    const capacity = data.length;
    const count = Math.min(max, available(control, max));
    const tags = new Array<number>(count);
    const lengths = new Array<number>(count);
    const starts = new Array<number>(count);
    let at = control[HEAD]!;
    let scratchBytes = 0;
    for (let i = 0; i < count; i++) {
      let total = data[at]!;
      at = at + 1 === capacity ? 0 : at + 1;
      total |= data[at]! << 8;
      at = at + 1 === capacity ? 0 : at + 1;
      total |= data[at]! << 16;
      at = at + 1 === capacity ? 0 : at + 1;
      total |= data[at]! << 24;
      at = at + 1 === capacity ? 0 : at + 1;
      tags[i] = data[at]!;
      at = at + 1 === capacity ? 0 : at + 1;
      starts[i] = at;
      lengths[i] = total - 1;
      scratchBytes += alignTo8(total - 1);
      at += total - 1;
      if (at >= capacity) at -= capacity;
    }
    if (scratchBytes > readScratch.length) readScratch = Buffer.allocUnsafeSlow(Math.max(scratchBytes, readScratch.length * 2));
    const bytes = readScratch;
    let freed = 0;
    for (let i = 0, offset = 0; i < count; i++) {
      copyOut(data, starts[i]!, lengths[i]!, bytes, capacity, offset);
      offset += alignTo8(lengths[i]!);
      freed += HEADER_BYTES + lengths[i]!;
    }
    control[HEAD] = at;
    Atomics.store(control, BYTES_TAKEN, (control[BYTES_TAKEN]! + freed) | 0);
    Atomics.store(control, TAKEN, (control[TAKEN]! + count) | 0);
    releaseWord(control, GET_LOCK);
    wakeWaiter(control, NOT_FULL, PUT_WAITERS, count);
    if (bytes.length > MAX_READ_SCRATCH) readScratch = Buffer.allocUnsafeSlow(MAX_READ_SCRATCH);
    const items = new Array<unknown>(count);
    for (let i = 0, offset = 0; i < count; i++) {
      items[i] = decodeItem(tags[i]!, bytes, lengths[i]!, offset);
      offset += alignTo8(lengths[i]!);
    }
    return items;
  }
}

function copyIn(data: Uint8Array, source: Uint8Array, from: number, length: number, at: number): void {
  const capacity = data.length;
  if (length <= SMALL_COPY) {
    for (let i = 0; i < length; i++) {
      data[at] = source[from + i]!;
      at = at + 1 === capacity ? 0 : at + 1;
    }
    return;
  }
  const first = Math.min(length, capacity - at);
  data.set(source.subarray(from, from + first), at);
  if (first < length) data.set(source.subarray(from + first, from + length), 0);
}

function copyOut(data: Uint8Array, at: number, length: number, target: Uint8Array, capacity: number, targetAt = 0): void {
  if (length <= SMALL_COPY) {
    for (let i = 0; i < length; i++) {
      target[targetAt + i] = data[at]!;
      at = at + 1 === capacity ? 0 : at + 1;
    }
    return;
  }
  const first = Math.min(length, capacity - at);
  target.set(data.subarray(at, at + first), targetAt);
  if (first < length) target.set(data.subarray(0, length - first), targetAt + first);
}

function alignTo8(n: number): number {
  return (n + 7) & ~7;
}

// ---- each side's view of the other ------------------------------------------------------------

/**
 * Under the consumers' lock: items to take, reading PUT_COUNT again only when the last read
 * says fewer than `want` (getMany takes all that is there, up to its max).
 */
function available(control: Int32Array, want = 1): number {
  const taken = control[TAKEN]!;
  const known = (control[SEEN_PUT]! - taken) | 0;
  if (known >= want) return known;
  const put = Atomics.load(control, PUT_COUNT);
  control[SEEN_PUT] = put;
  return (put - taken) | 0;
}

/** Under the producers' lock: reads the consumers' counts again (each only grows: a stale one errs toward full). */
function seeTaken(control: Int32Array): void {
  control[SEEN_TAKEN] = Atomics.load(control, TAKEN);
  control[SEEN_BYTES_TAKEN] = Atomics.load(control, BYTES_TAKEN);
}

/** Under the producers' lock: bytes in the ring as last seen (never fewer than there are). */
function usedBytes(control: Int32Array): number {
  return (control[BYTES_PUT]! - control[SEEN_BYTES_TAKEN]!) | 0;
}

// ---- the locks and the wake-ups ----------------------------------------------------------------

/** Takes the lock word at `index` if it is free or freed within a few tries. */
function spinLock(control: Int32Array, index: number): boolean {
  for (let i = 0; i < LOCK_SPINS; i++) {
    if (Atomics.load(control, index) === 0 && Atomics.compareExchange(control, index, 0, 1) === 0) return true;
  }
  return false;
}

async function lock(control: Int32Array, index: number): Promise<void> {
  if (!spinLock(control, index)) await acquireWord(control, index, Infinity);
}

/**
 * After publishing items (or room): when somebody waits on the other side, moves its seq on and
 * wakes up to `n` of them. One load and nothing more while nobody waits.
 */
function wakeWaiter(control: Int32Array, seq: number, waiters: number, n: number): void {
  if (n === 0) return;
  const waiting = Atomics.load(control, waiters);
  if (waiting === 0) return;
  Atomics.add(control, seq, 1);
  Atomics.notify(control, seq, Math.min(n, waiting));
}

/**
 * A waiter gives up (timeout, abort) after its last wait: the wake-up it may have been sent goes
 * on to the next waiter, so that none is lost to a leaver. A needless wake-up only makes a
 * waiter look again.
 */
function leaveWaiting(control: Int32Array, seq: number, waiters: number): void {
  wakeWaiter(control, seq, waiters, 1);
}

/** Waits for `seq` to move on from `value` (an abort ends the wait: the caller reports it). */
async function sleep(control: Int32Array, seq: number, value: number, deadline: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await waitWord(control, seq, value, deadline, signal);
  } catch {
    // Aborted: reported by the caller once it has uncounted itself.
  }
}
