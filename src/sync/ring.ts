import { InvalidStateError, TimeoutError } from '../core/errors.js';
import { checkWaitOptions, remaining, waitWord, type CheckedWait, type WaitOptions } from './atomic-wait.js';
import { ClosedError } from './errors.js';
import { decodeItem, encodeItem, encoded, isViewTag, newView, takeEncoded } from './item-codec.js';
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
 *   producer threads                 control (Int32Array)                  consumer threads
 *   put(item) ─ encode ─▶ [lock] ─▶ data: … [len:u32][tag][payload] … ─▶ [lock] ─ decode ─▶ get()
 *                          count, head, used, closed, maxsize,
 *                          notEmpty/notFull seqs, waiters and wakes on each side
 *
 * Every read or write of the ring happens under the lock word, synchronously (never across an
 * await), and the critical section only copies bytes: encoding happens before it, decoding
 * after it (from a per-thread scratch copy). So the lock is spun on for a few tries before a
 * thread waits for it: its holder is about to let go.
 *
 * Waiting for an item (or for room) and waking up, without lost or needless wake-ups:
 * - a getter that finds the ring empty counts itself in GET_WAITERS, reads the NOT_EMPTY seq,
 *   lets go of the lock and waits on that word; all three under the lock;
 * - a put that finds more waiters than wake-ups already sent (GET_WAITERS > GET_WAKES) bumps
 *   NOT_EMPTY, counts a wake-up and, after letting go of the lock, notifies one thread. A put
 *   that finds every waiter already woken skips both: a burst of puts costs one notify, not one
 *   each, while the woken consumer is on its way;
 * - every waiter, however its wait ended (notify, seq changed, timeout, abort), takes the lock
 *   again and uncounts itself and one wake-up (never below zero). So GET_WAKES <= GET_WAITERS,
 *   and a wake-up that went to a waiter which had already left is paid back by that waiter.
 * NOT_FULL, PUT_WAITERS and PUT_WAKES work the same way for bounded rings.
 *
 * Cost of an uncontended put + get of a number (the budget this layout is written to): per
 * side one compareExchange to lock, one store of COUNT, one exchange to unlock, no notify while
 * nobody waits; no allocation on the put side, one resolved promise on the get side; encoding
 * a number is one setFloat64. An object adds msgpack (about 1 µs) or v8.serialize.
 *
 * The data buffer starts small and doubles up to `maxBytes` (see #grow).
 */
const LOCK = 0;
const COUNT = 1;
const HEAD = 2;
const USED = 3;
const CLOSED = 4;
const NOT_EMPTY = 5;
const NOT_FULL = 6;
const MAXSIZE = 7;
const GET_WAITERS = 8;
const PUT_WAITERS = 9;
const GET_WAKES = 10;
const PUT_WAKES = 11;
/** Bytes of the data buffer in use: a thread whose view is shorter makes a new one. */
const CAPACITY = 12;
const CONTROL_WORDS = 13;

/** The u32 length and the tag byte in front of each payload. */
const HEADER_BYTES = 5;
/** Start small: most queues hold a few small items; the buffer doubles when needed. */
const INITIAL_BYTES = 4096;
/** Default cap of the data buffer: address space reserved up front, memory used only when grown. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/**
 * Tries at the lock before waiting for it asynchronously. A holder keeps it for a copy of a few
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
    return Atomics.load(this.#control, COUNT);
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
    // Fast path: the lock is free (or soon), the ring is open and has room.
    if (wait.deadline === Infinity && !wait.signal && spinLock(this.#control)) {
      const outcome = this.#putLocked(encoded.tag, encoded.payload, 0, encoded.length);
      if (outcome === 'done') return RESOLVED;
      releaseLock(this.#control);
      if (outcome === 'closed') return Promise.reject(new ClosedError(`${what}: the queue is closed`));
    }
    return this.#putWaiting(takeEncoded(), wait, what);
  }

  /** Takes the oldest item; waits while the ring is empty; ClosedError once closed and drained. */
  get(options: WaitOptions | undefined, what: string): Promise<unknown> {
    let wait: CheckedWait;
    try {
      wait = checkWaitOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    // No spinning for an item on an empty ring before sleeping: measured on a busy 2-core
    // machine, a spinning getter took the CPU from the very producer it waited for (Pipe round
    // trips 3x slower, no throughput gained).
    if (wait.deadline === Infinity && !wait.signal && spinLock(this.#control)) {
      if (this.#control[COUNT]! > 0) return Promise.resolve(this.#takeLocked());
      releaseLock(this.#control);
    }
    return this.#getWaiting(wait, what);
  }

  /**
   * Takes the oldest items, at least one and at most `max`, under one hold of the lock (one
   * promise, one wake-up of the putters for all of them); waits like get while there is none.
   */
  getMany(max: number, options: WaitOptions | undefined, what: string): Promise<unknown[]> {
    let wait: CheckedWait;
    try {
      wait = checkWaitOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (wait.deadline === Infinity && !wait.signal && spinLock(this.#control)) {
      if (this.#control[COUNT]! > 0) return Promise.resolve(this.#takeManyLocked(max));
      releaseLock(this.#control);
    }
    return this.#getWaiting(wait, what, max) as Promise<unknown[]>;
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

  async #putWaiting(record: Uint8Array, { timeout, deadline, signal }: CheckedWait, what: string): Promise<void> {
    const control = this.#control;
    for (let waited = false; ; waited = true) {
      await lock(control);
      if (waited) uncountWaiter(control, PUT_WAITERS, PUT_WAKES);
      if (signal?.aborted) {
        releaseLock(control);
        throw signal.reason;
      }
      const outcome = this.#putLocked(record[0]!, record, 1, record.length - 1);
      if (outcome === 'done') return;
      if (outcome === 'closed') {
        releaseLock(control);
        throw new ClosedError(`${what}: the queue is closed`);
      }
      if (remaining(deadline) === 0) {
        releaseLock(control);
        throw new TimeoutError(`${what} timed out after ${timeout} ms: the queue stayed full (${this.size} items)`);
      }
      await waitUnlocked(control, NOT_FULL, PUT_WAITERS, deadline, signal);
    }
  }

  /** The waiting get: one item, or (`many` > 0) an array of 1 to `many` items. */
  async #getWaiting({ timeout, deadline, signal }: CheckedWait, what: string, many = 0): Promise<unknown> {
    const control = this.#control;
    for (let waited = false; ; waited = true) {
      await lock(control);
      if (waited) uncountWaiter(control, GET_WAITERS, GET_WAKES);
      if (signal?.aborted) {
        releaseLock(control);
        throw signal.reason;
      }
      if (control[COUNT]! > 0) return many > 0 ? this.#takeManyLocked(many) : this.#takeLocked();
      if (Atomics.load(control, CLOSED) === 1) {
        releaseLock(control);
        throw new ClosedError(`${what}: the queue is closed and empty`);
      }
      if (remaining(deadline) === 0) {
        releaseLock(control);
        throw new TimeoutError(`${what} timed out after ${timeout} ms: the queue stayed empty`);
      }
      await waitUnlocked(control, NOT_EMPTY, GET_WAITERS, deadline, signal);
    }
  }

  #checkFits(length: number, what: string): void {
    const max = this.#maxBytes;
    if (HEADER_BYTES + length > max) {
      throw new RangeError(`${what}: an item of ${length + 1} serialised bytes does not fit in a queue of at most ${max} bytes (raise maxBytes)`);
    }
  }

  #hasRoom(length: number): boolean {
    const control = this.#control;
    const maxsize = control[MAXSIZE]!;
    return (maxsize === 0 || control[COUNT]! < maxsize) && control[USED]! + HEADER_BYTES + length <= this.#maxBytes;
  }

  /** Under the lock: the data view, renewed if another thread has grown the buffer. */
  #view(): Uint8Array {
    const capacity = this.#control[CAPACITY]!;
    if (this.#data.length !== capacity) this.#data = new Uint8Array(this.#dataBuffer, 0, capacity);
    return this.#data;
  }

  // ---- under the lock ------------------------------------------------------------------------

  /**
   * Writes one record if the ring is open and has room. Once written, lets go of the lock (and
   * wakes a getter if one waits for this item); when closed or full, the caller still holds it.
   */
  #putLocked(tag: number, payload: Uint8Array, from: number, length: number): 'done' | 'closed' | 'full' {
    const control = this.#control;
    if (Atomics.load(control, CLOSED) === 1) return 'closed';
    if (!this.#hasRoom(length)) return 'full';
    const used = control[USED]!;
    const need = HEADER_BYTES + length;
    let data = this.#view();
    if (used + need > data.length) data = this.#grow(used + need);
    const capacity = data.length;
    let at = control[HEAD]! + used;
    if (at >= capacity) at -= capacity;
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
    control[USED] = used + need;
    Atomics.store(control, COUNT, control[COUNT]! + 1);
    const wake = wakeOne(control, NOT_EMPTY, GET_WAITERS, GET_WAKES);
    releaseLock(control);
    if (wake) Atomics.notify(control, NOT_EMPTY, 1);
    return 'done';
  }

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
    const used = control[USED]! - HEADER_BYTES - length;
    at += length;
    // An empty ring restarts at 0: fewer wrapped copies for the common put-then-get pattern.
    control[HEAD] = used === 0 ? 0 : at >= capacity ? at - capacity : at;
    control[USED] = used;
    Atomics.store(control, COUNT, control[COUNT]! - 1);
    const wake = wakeOne(control, NOT_FULL, PUT_WAITERS, PUT_WAKES);
    releaseLock(control);
    if (wake) Atomics.notify(control, NOT_FULL, 1);
    const bytes = readScratch;
    // One huge item does not keep its scratch alive in this thread.
    if (bytes.length > MAX_READ_SCRATCH) readScratch = Buffer.allocUnsafeSlow(MAX_READ_SCRATCH);
    return view ?? decodeItem(tag, bytes, length);
  }

  /**
   * Grows the buffer to at least `atLeast` bytes (doubling). A ring that wraps moves its
   * wrapped start to just past the old end (room a doubling always leaves); one that does not
   * wrap moves nothing.
   */
  /**
   * Takes up to `max` records (there is one at least): their payloads are copied into this
   * thread's scratch at 8-byte aligned offsets, the lock is let go, then each is decoded.
   */
  #takeManyLocked(max: number): unknown[] {
    const control = this.#control;
    const data = this.#view();
    const capacity = data.length;
    const count = Math.min(max, control[COUNT]!);
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
    let used = control[USED]!;
    for (let i = 0, offset = 0; i < count; i++) {
      copyOut(data, starts[i]!, lengths[i]!, bytes, capacity, offset);
      offset += alignTo8(lengths[i]!);
      used -= HEADER_BYTES + lengths[i]!;
    }
    control[HEAD] = used === 0 ? 0 : at;
    control[USED] = used;
    Atomics.store(control, COUNT, control[COUNT]! - count);
    const wake = wakeSome(control, NOT_FULL, PUT_WAITERS, PUT_WAKES, count);
    releaseLock(control);
    if (wake > 0) Atomics.notify(control, NOT_FULL, wake);
    if (bytes.length > MAX_READ_SCRATCH) readScratch = Buffer.allocUnsafeSlow(MAX_READ_SCRATCH);
    const items = new Array<unknown>(count);
    for (let i = 0, offset = 0; i < count; i++) {
      items[i] = decodeItem(tags[i]!, bytes, lengths[i]!, offset);
      offset += alignTo8(lengths[i]!);
    }
    return items;
  }

  #grow(atLeast: number): Uint8Array {
    const control = this.#control;
    const oldCapacity = this.#data.length;
    const size = Math.min(this.#maxBytes, Math.max(atLeast, oldCapacity * 2));
    if (!this.#dataBuffer.growable) throw new InvalidStateError('the queue buffer cannot grow');
    this.#dataBuffer.grow(size);
    control[CAPACITY] = size;
    const data = this.#view();
    const head = control[HEAD]!;
    const wrapped = head + control[USED]! - oldCapacity;
    if (wrapped <= 0) return data;
    if (oldCapacity + wrapped <= size) {
      data.copyWithin(oldCapacity, 0, wrapped);
      return data;
    }
    // Capped by maxBytes short of doubling: straighten the ring to start at 0 instead.
    const live = new Uint8Array(control[USED]!);
    copyOut(data, head, live.length, live, oldCapacity);
    data.set(live, 0);
    control[HEAD] = 0;
    return data;
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

// ---- the lock and the wake-up counts ------------------------------------------------------------

/** Takes the ring's lock if it is free or freed within a few tries. */
function spinLock(control: Int32Array): boolean {
  for (let i = 0; i < LOCK_SPINS; i++) {
    if (Atomics.load(control, LOCK) === 0 && Atomics.compareExchange(control, LOCK, 0, 1) === 0) return true;
  }
  return false;
}

async function lock(control: Int32Array): Promise<void> {
  if (!spinLock(control)) await acquireWord(control, LOCK, Infinity);
}

function releaseLock(control: Int32Array): void {
  releaseWord(control, LOCK);
}

/**
 * Under the lock: when some waiter on `seq` has not been sent a wake-up yet, counts one and
 * moves the seq on; true when the caller must notify once it has let go of the lock.
 */
function wakeOne(control: Int32Array, seq: number, waiters: number, wakes: number): boolean {
  const sent = control[wakes]!;
  if (control[waiters]! <= sent) return false;
  control[wakes] = sent + 1;
  Atomics.add(control, seq, 1);
  return true;
}

/** As wakeOne, for `n` items at once: how many waiters the caller must notify (0 to n). */
function wakeSome(control: Int32Array, seq: number, waiters: number, wakes: number, n: number): number {
  const sent = control[wakes]!;
  const wake = Math.min(n, control[waiters]! - sent);
  if (wake <= 0) return 0;
  control[wakes] = sent + wake;
  Atomics.add(control, seq, 1);
  return wake;
}

/** Under the lock: a waiter is back, however its wait ended. */
function uncountWaiter(control: Int32Array, waiters: number, wakes: number): void {
  control[waiters] = control[waiters]! - 1;
  const sent = control[wakes]!;
  if (sent > 0) control[wakes] = sent - 1;
}

/**
 * Counts this side in `waiters`, reads `word`, drops the ring's lock and waits for the word to
 * move on (the lock is held on entry; the caller uncounts itself under the lock afterwards).
 * An abort is not thrown here: the caller sees `signal.aborted` once it has uncounted itself.
 */
async function waitUnlocked(control: Int32Array, word: number, waiters: number, deadline: number, signal: AbortSignal | undefined): Promise<void> {
  control[waiters] = control[waiters]! + 1;
  const seq = Atomics.load(control, word);
  releaseLock(control);
  try {
    await waitWord(control, word, seq, deadline, signal);
  } catch {
    // Aborted: reported by the caller after it has uncounted itself.
  }
}
