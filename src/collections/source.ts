import { InvalidStateError } from '../core/errors.js';
import { checkPositiveInteger, expected } from '../core/validate.js';

export interface BagOptions {
  /**
   * How many partitions an array is split into: contiguous runs whose sizes differ by one at most.
   * @default 16 (or the array's length, if shorter)
   */
  partitions?: number;
  /**
   * Items per partition: how an iterable or async iterable is cut as it streams (its length is
   * unknown, so it cannot be split into a number of partitions); also accepted for an array
   * instead of `partitions`. @default 1024
   */
  partitionSize?: number;
}

/**
 * Enough partitions to give 2 workers 8 shares each, or 16 cluster slots one each (a straggler
 * then holds back at most 1/16 of the work), few enough that their messages cost nothing.
 */
export const DEFAULT_PARTITIONS = 16;
/** Items per streamed partition: one message each way per thousand items, a bounded pull-ahead. */
export const DEFAULT_PARTITION_SIZE = 1024;

type Items<T> = readonly T[] | Iterable<T> | AsyncIterable<T>;

/**
 * Where a Bag's items come from, cut into partitions when it is computed. An array is split into
 * `partitions` at once (it is all there already); any other iterable streams: partitions of
 * `partitionSize` items are pulled only as the computation has room for them, so the whole input
 * is never held. A one-shot iterator (a generator, a stream) can feed one computation only.
 */
export class BagSource<T = unknown> {
  readonly #items: Items<T>;
  readonly #partitions: number | undefined;
  readonly #size: number | undefined;
  readonly #oneShot: boolean;
  #consumed = false;

  constructor(items: Items<T>, options: BagOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
    const { partitions, partitionSize } = options;
    if (partitions !== undefined) checkPositiveInteger('partitions', partitions);
    if (partitionSize !== undefined) checkPositiveInteger('partitionSize', partitionSize);
    if (partitions !== undefined && partitionSize !== undefined) {
      throw new TypeError('Expected `partitions` or `partitionSize`, not both: one says how many partitions, the other how large each is');
    }
    const isArray = Array.isArray(items);
    if (!isArray && !isIterable(items) && !isAsyncIterable(items)) throw new TypeError(expected('items', 'an array, an iterable or an async iterable', items));
    if (!isArray && partitions !== undefined) {
      throw new TypeError(`Expected \`partitionSize\` rather than \`partitions\` for ${isAsyncIterable(items) ? 'an async iterable' : 'an iterable that is not an array'}: its length is unknown until it has been read, so it streams in partitions of partitionSize items`);
    }
    this.#items = items;
    this.#partitions = partitions;
    this.#size = partitionSize;
    this.#oneShot = !isArray && isOneShot(items);
  }

  get streams(): boolean {
    return !Array.isArray(this.#items);
  }

  /** How many partitions an array gives now; undefined while streaming (known once read). */
  get partitionCount(): number | undefined {
    if (!Array.isArray(this.#items)) return undefined;
    const length = (this.#items as readonly T[]).length;
    if (length === 0) return 0;
    return this.#size !== undefined ? Math.ceil(length / this.#size) : Math.min(this.#partitions ?? DEFAULT_PARTITIONS, length);
  }

  /** The partitions, in order: each an array of items. */
  partitions(): Iterator<T[]> | AsyncIterator<T[]> {
    if (Array.isArray(this.#items)) return slices(this.#items as readonly T[], this.partitionCount!);
    if (this.#oneShot) {
      if (this.#consumed) throw new InvalidStateError('this Bag reads a one-shot iterator (a generator or a stream) that an earlier computation has already read; make the Bag again from a fresh one');
      this.#consumed = true;
    }
    return cut(this.#items, this.#size ?? DEFAULT_PARTITION_SIZE);
  }

  describe(): string {
    const count = this.partitionCount;
    if (count !== undefined) {
      const length = (this.#items as readonly T[]).length;
      return `${count} partition${count === 1 ? '' : 's'} of an array of ${length} item${length === 1 ? '' : 's'}`;
    }
    const kind = isAsyncIterable(this.#items) ? 'an async iterable' : 'an iterable';
    return `partitions of ${this.#size ?? DEFAULT_PARTITION_SIZE} items streamed from ${kind}`;
  }
}

function* slices<T>(items: readonly T[], count: number): Generator<T[]> {
  for (let i = 0; i < count; i++) yield items.slice(Math.floor((i * items.length) / count), Math.floor(((i + 1) * items.length) / count));
}

async function* cut<T>(items: Iterable<T> | AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let partition: T[] = [];
  for await (const item of items) {
    partition.push(item);
    if (partition.length === size) {
      yield partition;
      partition = [];
    }
  }
  if (partition.length > 0) yield partition;
}

/** A generator (or any iterator) and a stream give nothing the second time they are read. */
function isOneShot(items: object): boolean {
  const o = items as { next?: unknown; pipe?: unknown };
  return typeof o.next === 'function' || typeof o.pipe === 'function';
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value != null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return value != null && typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function';
}
