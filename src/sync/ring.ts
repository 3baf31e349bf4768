import { InvalidStateError, TimeoutError } from '../core/errors.js';
import { checkWaitOptions, waitWord, type WaitOptions, type WaitOutcome } from './atomic-wait.js';
import { ClosedError } from './errors.js';
import { decodeItem, encodeItem } from './item-codec.js';
import { acquireWord, releaseWord, tryAcquireWord } from './lock.js';

/**
 * The storage of Queue and Pipe: a ring of serialised items in shared memory, so that any
 * number of threads put and get directly, with no thread owning the queue.
 *
 * Why not a MessageChannel: a port has exactly one receiving end and can be transferred only
 * once, so it cannot give several consumer threads one queue, nor count its items, nor make a
 * producer wait on a bound. Shared memory does all three; items are structured-cloned with
 * v8.serialize (the algorithm postMessage uses; see item-codec.ts), so they keep the same types.
 *
 *   control (Int32Array, fixed)                       data (Uint8Array, growable SAB)
 *   [lock, count, head, used, closed,                  … [len:u32][item bytes] [len][bytes] …
 *    notEmpty seq, notFull seq, maxsize,                    ▲ head (byte offset, wraps)
 *    get waiters, put waiters]
 *
 * Every read or write of the ring happens under the lock word, never across an await. A getter
 * that finds it empty reads `notEmpty`, lets go of the lock and waits on that word; every put
 * bumps it and wakes one waiter (a put between the read and the wait makes the wait return at
 * once); a waiter registers itself under the lock, so a put that finds no waiter registered
 * skips the notify safely. `notFull` works the same way for bounded queues. The lock is taken
 * without awaiting when it is free, so an uncontended put or get costs no extra microtask. The data buffer starts small and
 * doubles up to `maxBytes`; growing straightens the ring so that it starts at offset 0.
 */
const LOCK = 0;
const COUNT = 1;
const HEAD = 2;
const USED = 3;
const CLOSED = 4;
const NOT_EMPTY = 5;
const NOT_FULL = 6;
const MAXSIZE = 7;
/** Getters / putters registered as waiting: a put or get notifies only when somebody waits. */
const GET_WAITERS = 8;
const PUT_WAITERS = 9;
const CONTROL_WORDS = 10;

const LENGTH_BYTES = 4;
/** Start small: most queues hold a few small items; the buffer doubles when needed. */
const INITIAL_BYTES = 4096;
/** Default cap of the data buffer: address space reserved up front, memory used only when grown. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

export interface SharedRing {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export class Ring {
  readonly #control: Int32Array;
  readonly #dataBuffer: SharedArrayBuffer;
  readonly #data: Uint8Array;
  readonly #lengthView = new DataView(new ArrayBuffer(LENGTH_BYTES));

  /** A new ring (maxsize 0: unbounded), or one over `shared` memory. */
  constructor(maxsize: number, maxBytes: number, shared?: SharedRing) {
    if (shared) {
      this.#control = new Int32Array(shared.control);
      this.#dataBuffer = shared.data;
    } else {
      this.#control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
      this.#control[MAXSIZE] = maxsize;
      this.#dataBuffer = new SharedArrayBuffer(Math.min(INITIAL_BYTES, maxBytes), { maxByteLength: maxBytes });
    }
    // Length-tracking: follows the buffer when any thread grows it.
    this.#data = new Uint8Array(this.#dataBuffer);
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
  async put(item: unknown, options: WaitOptions | undefined, what: string): Promise<void> {
    const { timeout, deadline, signal } = checkWaitOptions(options);
    const bytes = encodeItem(item, what);
    const need = LENGTH_BYTES + bytes.length;
    const max = this.#dataBuffer.maxByteLength;
    if (need > max) throw new RangeError(`${what}: an item of ${bytes.length} serialised bytes does not fit in a queue of at most ${max} bytes (raise maxBytes)`);
    const control = this.#control;
    for (;;) {
      if (!tryAcquireWord(control, LOCK)) await acquireWord(control, LOCK, Infinity);
      if (Atomics.load(control, CLOSED) === 1) {
        releaseWord(control, LOCK);
        throw new ClosedError(`${what}: the queue is closed`);
      }
      const count = Atomics.load(control, COUNT);
      const maxsize = control[MAXSIZE]!;
      const used = Atomics.load(control, USED);
      if ((maxsize === 0 || count < maxsize) && used + need <= max) {
        this.#write(bytes, used, need);
        Atomics.add(control, COUNT, 1);
        Atomics.add(control, NOT_EMPTY, 1);
        releaseWord(control, LOCK);
        if (Atomics.load(control, GET_WAITERS) > 0) Atomics.notify(control, NOT_EMPTY, 1);
        return;
      }
      const seq = Atomics.load(control, NOT_FULL);
      const outcome = await waitUnlocked(control, NOT_FULL, PUT_WAITERS, seq, deadline, signal);
      if (outcome === 'timed-out') {
        throw new TimeoutError(`${what} timed out after ${timeout} ms: the queue stayed full (${this.size} items)`);
      }
    }
  }

  /** Takes the oldest item; waits while the ring is empty; ClosedError once closed and drained. */
  async get(options: WaitOptions | undefined, what: string): Promise<unknown> {
    const { timeout, deadline, signal } = checkWaitOptions(options);
    const control = this.#control;
    for (;;) {
      if (!tryAcquireWord(control, LOCK)) await acquireWord(control, LOCK, Infinity);
      if (Atomics.load(control, COUNT) > 0) {
        const bytes = this.#read();
        Atomics.sub(control, COUNT, 1);
        Atomics.add(control, NOT_FULL, 1);
        releaseWord(control, LOCK);
        if (Atomics.load(control, PUT_WAITERS) > 0) Atomics.notify(control, NOT_FULL, 1);
        return decodeItem(bytes);
      }
      const closed = Atomics.load(control, CLOSED) === 1;
      const seq = Atomics.load(control, NOT_EMPTY);
      if (closed) {
        releaseWord(control, LOCK);
        throw new ClosedError(`${what}: the queue is closed and empty`);
      }
      const outcome = await waitUnlocked(control, NOT_EMPTY, GET_WAITERS, seq, deadline, signal);
      if (outcome === 'timed-out') {
        throw new TimeoutError(`${what} timed out after ${timeout} ms: the queue stayed empty`);
      }
    }
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

  // ---- under the lock ------------------------------------------------------------------------

  #write(bytes: Uint8Array, used: number, need: number): void {
    const control = this.#control;
    if (used + need > this.#data.length) this.#grow(used + need);
    const capacity = this.#data.length;
    const tail = (control[HEAD]! + used) % capacity;
    this.#lengthView.setUint32(0, bytes.length);
    this.#copyIn(new Uint8Array(this.#lengthView.buffer), tail);
    this.#copyIn(bytes, (tail + LENGTH_BYTES) % capacity);
    Atomics.store(control, USED, used + need);
  }

  #read(): Uint8Array {
    const control = this.#control;
    const capacity = this.#data.length;
    const head = control[HEAD]!;
    const lengthBytes = this.#copyOut(head, LENGTH_BYTES);
    const length = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, LENGTH_BYTES).getUint32(0);
    const bytes = this.#copyOut((head + LENGTH_BYTES) % capacity, length);
    const used = control[USED]! - LENGTH_BYTES - length;
    // An empty ring restarts at 0: fewer wrapped copies for the common put-then-get pattern.
    Atomics.store(control, HEAD, used === 0 ? 0 : (head + LENGTH_BYTES + length) % capacity);
    Atomics.store(control, USED, used);
    return bytes;
  }

  #grow(atLeast: number): void {
    const control = this.#control;
    const used = control[USED]!;
    const live = this.#copyOut(control[HEAD]!, used);
    const size = Math.min(this.#dataBuffer.maxByteLength, Math.max(atLeast, this.#data.length * 2));
    if (!this.#dataBuffer.growable) throw new InvalidStateError('the queue buffer cannot grow');
    this.#dataBuffer.grow(size);
    this.#data.set(live, 0);
    control[HEAD] = 0;
  }

  #copyIn(bytes: Uint8Array, at: number): void {
    const first = Math.min(bytes.length, this.#data.length - at);
    this.#data.set(bytes.subarray(0, first), at);
    if (first < bytes.length) this.#data.set(bytes.subarray(first), 0);
  }

  #copyOut(at: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const first = Math.min(length, this.#data.length - at);
    out.set(this.#data.subarray(at, at + first), 0);
    if (first < length) out.set(this.#data.subarray(0, length - first), first);
    return out;
  }
}

/**
 * Counts this side in `waiters`, drops the ring's lock and waits for `word` to move on from `seq`
 * (the lock is held on entry; the count tells the other side whether to notify).
 */
async function waitUnlocked(control: Int32Array, word: number, waiters: number, seq: number, deadline: number, signal: AbortSignal | undefined): Promise<WaitOutcome> {
  Atomics.add(control, waiters, 1);
  releaseWord(control, LOCK);
  try {
    return await waitWord(control, word, seq, deadline, signal);
  } finally {
    Atomics.sub(control, waiters, 1);
  }
}
