import type { ParentChannel } from '../core/shareable.js';
import { checkNonNegativeInteger, checkPositiveInteger, expected } from '../core/validate.js';
import { checkWaitOptions, type WaitOptions } from './atomic-wait.js';
import { ClosedError } from './errors.js';
import { DEFAULT_MAX_BYTES, Ring, type SharedRing } from './ring.js';
import { noSuchMethod, registerPrimitive, ServedProxy } from './share.js';

export interface QueueOptions {
  /** Most items it holds; put waits while it is full. 0: unbounded. @default 0 */
  maxsize?: number;
  /**
   * Most bytes its serialised items may take together (shared memory is reserved up to this,
   * used as needed); a put waits while they would not fit. @default 64 MiB
   */
  maxBytes?: number;
}

let attaching: SharedRing | undefined;

/**
 * A FIFO queue for threads and processes (queue.Queue / multiprocessing.Queue). Items are
 * structured-cloned (the receiver gets a copy). Any number of producers and consumers, in any
 * threads it was passed to, use one ring of shared memory (see ring.ts). `close()` ends it:
 * puts reject with ClosedError at once, gets drain what is left and then reject with
 * ClosedError, and `for await (const item of queue)` stops.
 */
export class Queue<T = unknown> {
  readonly #ring: Ring;

  constructor(options: QueueOptions = {}) {
    if (attaching) {
      this.#ring = new Ring(0, 0, attaching);
      attaching = undefined;
      return;
    }
    if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object such as { maxsize: 10 }', options));
    const maxsize = options.maxsize === undefined ? 0 : checkNonNegativeInteger('maxsize', options.maxsize);
    if (maxsize > 0x7fffffff) throw new RangeError(`Expected \`maxsize\` to be at most 2147483647, got ${maxsize} (number)`);
    const maxBytes = options.maxBytes === undefined ? DEFAULT_MAX_BYTES : checkPositiveInteger('maxBytes', options.maxBytes);
    this.#ring = new Ring(maxsize, maxBytes);
  }

  /** Appends `item`; on a bounded queue, waits while it is full (TimeoutError after `timeout` ms). */
  put(item: T, options?: WaitOptions): Promise<void> {
    return this.#ring.put(item, options, 'Queue.put()');
  }

  /**
   * Appends `items` in order, in as few steps as there is room for: one hold of the shared lock
   * and one wake-up of the getters for all that fit, so a producer with a batch pays the per-put
   * cost once. On a bounded queue, waits for room as put does. Every item is serialised first:
   * one that cannot be refuses the whole batch (TypeError) before any goes in. A close, timeout
   * or abort part-way leaves the first items in; a close's or timeout's error says how many (an
   * abort rejects with the signal's reason).
   */
  putMany(items: readonly T[], options?: WaitOptions): Promise<void> {
    if (!Array.isArray(items)) return Promise.reject(new TypeError(expected('items', 'an array', items)));
    return this.#ring.putMany(items, options, 'Queue.putMany()');
  }

  /** Takes the oldest item, waiting while there is none (TimeoutError after `timeout` ms). */
  get(options?: WaitOptions): Promise<T> {
    return this.#ring.get(options, 'Queue.get()') as Promise<T>;
  }

  /**
   * Takes the oldest items, at least one and at most `max`, in one step: one promise and one
   * hold of the shared lock for the lot, so a consumer that works through items in batches
   * pays the per-get cost once a batch. Waits like get while there is none.
   */
  getMany(max: number, options?: WaitOptions): Promise<T[]> {
    try {
      checkManyMax(max);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#ring.getMany(max, options, 'Queue.getMany()') as Promise<T[]>;
  }

  /** How many items it holds now. */
  get size(): number {
    return this.#ring.size;
  }

  /** The bound given at construction; 0 when unbounded. */
  get maxsize(): number {
    return this.#ring.maxsize;
  }

  get closed(): boolean {
    return this.#ring.closed;
  }

  close(): void {
    this.#ring.close();
  }

  /** Takes items until the queue is closed and empty. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return drain(this);
  }

  static {
    registerPrimitive<Queue, SharedRing>({
      name: 'Queue',
      Class: Queue,
      toShared: (queue) => queue.#ring.shared,
      fromShared(shared) {
        attaching = shared;
        return new Queue();
      },
      proxy: (parent, id) => new QueueProxy(parent, id),
      serve(queue, method, args, signal) {
        switch (method) {
          case 'put': return queue.put(args[0], { ...(args[1] as WaitOptions | undefined), signal });
          case 'putMany': return queue.putMany(args[0] as unknown[], { ...(args[1] as WaitOptions | undefined), signal });
          case 'get': return queue.get({ ...(args[0] as WaitOptions | undefined), signal });
          case 'getMany': return queue.getMany(args[0] as number, { ...(args[1] as WaitOptions | undefined), signal });
          case 'close': return queue.close();
          default: throw noSuchMethod('Queue', method);
        }
      },
    });
  }
}

async function* drain<T>(queue: { get(): Promise<T> }): AsyncGenerator<T, void, undefined> {
  for (;;) {
    try {
      yield await queue.get();
    } catch (error) {
      if (error instanceof ClosedError) return;
      throw error;
    }
  }
}

/** A Queue in a child process: the items live in the parent. */
export class QueueProxy<T = unknown> extends ServedProxy {
  protected readonly kind = 'Queue';

  constructor(parent: ParentChannel, id: number) {
    super(parent, id);
  }

  async put(item: T, options?: WaitOptions): Promise<void> {
    checkWaitOptions(options);
    await this.call('put', [item, ServedProxy.remoteOptions('Queue', options)]);
  }

  async putMany(items: readonly T[], options?: WaitOptions): Promise<void> {
    if (!Array.isArray(items)) throw new TypeError(expected('items', 'an array', items));
    checkWaitOptions(options);
    await this.call('putMany', [items, ServedProxy.remoteOptions('Queue', options)]);
  }

  async get(options?: WaitOptions): Promise<T> {
    checkWaitOptions(options);
    return this.call('get', [ServedProxy.remoteOptions('Queue', options)]) as Promise<T>;
  }

  async getMany(max: number, options?: WaitOptions): Promise<T[]> {
    checkManyMax(max);
    checkWaitOptions(options);
    return this.call('getMany', [max, ServedProxy.remoteOptions('Queue', options)]) as Promise<T[]>;
  }

  close(): Promise<void> {
    return this.call('close') as Promise<void>;
  }

  get size(): number {
    return this.unavailable('size', 'count items in the tasks, or read size in the parent');
  }

  get maxsize(): number {
    return this.unavailable('maxsize', 'pass it to the task');
  }

  get closed(): boolean {
    return this.unavailable('closed', 'get() rejects with ClosedError once it is closed and empty');
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return drain(this);
  }
}

function checkManyMax(max: number): void {
  checkPositiveInteger('max', max);
}

export { drain as drainQueue };
