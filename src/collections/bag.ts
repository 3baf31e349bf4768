import type { Executor } from '../core/executor.js';
import type { TaskRef } from '../core/task.js';
import { checkNonNegativeInteger, checkPositiveInteger, expected } from '../core/validate.js';
import { checkComputeOptions, checkExecutor, runStages, type ComputeOptions } from './engine.js';
import type { Key } from './keys.js';
import { merger } from './merge.js';
import { checkCombiner, checkStepTask, compile, explainPlan, type Action, type Op } from './plan.js';
import { BagSource, type BagOptions } from './source.js';
import { MAX_SHUFFLE_PARTITIONS, type StepOp } from './spec.js';

/**
 * Spark's RDD and Dask's Bag for weft: a lazy, typed collection whose steps are tasks, computed
 * on any executor. Building a Bag runs nothing; `collect(executor)` (or an action's
 * `compute(executor)`) cuts the plan into stages (plan.ts) and runs one task per partition and
 * stage (engine.ts).
 *
 * @example
 * const counts = await bag(lines, { partitions: 8 })
 *   .flatMap(tasks.words).map(tasks.withOne).reduceByKey(tasks.add)
 *   .collect(pool);
 */
export interface ShuffleOptions {
  /** Partitions after the shuffle. @default as many as before it (16 when the input streams) */
  partitions?: number;
}

/** The arguments a step takes after the value. */
type Rest<A> = A extends readonly [any, ...infer E] ? E : never;
/** What a flatMap or mapPartitions task's values are: a generator's yields, or an iterable's items. */
type FlatOf<R, Y> = [Y] extends [never] ? (R extends Iterable<infer X> ? X : R extends AsyncIterable<infer X> ? X : never) : Y;
type KeyOf<T> = T extends readonly [infer K, any] ? K : never;
type ValueOf<T> = T extends readonly [any, infer V] ? V : never;

export class Bag<T> {
  readonly #source: BagSource;
  readonly #ops: readonly Op[];

  /** @internal Use bag(items, options). */
  constructor(source: BagSource, ops: readonly Op[] = []) {
    this.#source = source;
    this.#ops = ops;
  }

  /** Each value becomes `task(value, ...args)`. */
  map<A extends [T, ...any[]], R>(task: TaskRef<A, R, any>, ...args: Rest<A>): Bag<R> {
    return this.#step('map', task, args);
  }

  /** Keeps the values for which `task(value, ...args)` is truthy. */
  filter<A extends [T, ...any[]]>(task: TaskRef<A, unknown, any>, ...args: Rest<A>): Bag<T> {
    return this.#step('filter', task, args);
  }

  /** Each value becomes the values `task(value, ...args)` returns (an array, an iterable) or yields (a generator). */
  flatMap<A extends [T, ...any[]], R, Y>(task: TaskRef<A, R, Y>, ...args: Rest<A>): Bag<FlatOf<R, Y>> {
    return this.#step('flatMap', task, args);
  }

  /** Each partition's values, as one array, become what `task(values, ...args)` returns or yields. */
  mapPartitions<A extends [T[], ...any[]], R, Y>(task: TaskRef<A, R, Y>, ...args: Rest<A>): Bag<FlatOf<R, Y>> {
    return this.#step('mapPartitions', task, args);
  }

  /**
   * [key, value] pairs, one per key, its values combined with `task(a, b)`: first on each
   * partition (the combiner), then the combined pairs are shuffled by key and combined again.
   */
  reduceByKey(task: TaskRef<[ValueOf<T>, ValueOf<T>], ValueOf<T>, any>, options?: ShuffleOptions): Bag<[KeyOf<T>, ValueOf<T>]> {
    return this.#shuffle('reduceByKey', checkCombiner(task, 'reduceByKey'), options);
  }

  /** [key, values] pairs, one per key (values grouped on each partition before the shuffle). */
  groupByKey(options?: ShuffleOptions): Bag<[KeyOf<T>, ValueOf<T>[]]> {
    return this.#shuffle('groupByKey', undefined, options);
  }

  /** Each value once (values must be keys: strings, numbers, ...; deduplicated on each partition first). */
  distinct(options?: ShuffleOptions): Bag<T & Key> {
    return this.#shuffle('distinct', undefined, options);
  }

  /** The values combined with `task(a, b)`: on each partition, then the partitions' results on the caller. Rejects on an empty Bag. */
  reduce(task: TaskRef<[T, T], T, any>): Item<T> {
    return new Item(this.#source, this.#ops, { to: 'reduce', task: checkCombiner(task, 'reduce') });
  }

  /** Like reduce, starting each partition and the caller's merge from `zero` (an identity of `task`, as in Spark). */
  fold(zero: T, task: TaskRef<[T, T], T, any>): Item<T> {
    return new Item(this.#source, this.#ops, { to: 'fold', task: checkCombiner(task, 'fold'), zero });
  }

  count(): Item<number> {
    return new Item(this.#source, this.#ops, { to: 'count' });
  }

  /** The first `count` values, in order; stops reading partitions once it has them. */
  take(count: number): Item<T[]> {
    return new Item(this.#source, this.#ops, { to: 'take', count: checkNonNegativeInteger('count', count) });
  }

  /** How many pairs have each key: a Map (counted on each partition, added up on the caller). */
  countByKey(): Item<Map<KeyOf<T>, number>> {
    return new Item(this.#source, this.#ops, { to: 'countByKey' });
  }

  /** How many times each value occurs: a Map (values must be keys). */
  countByValue(): Item<Map<T & Key, number>> {
    return new Item(this.#source, this.#ops, { to: 'countByValue' });
  }

  /** Every value, in order. */
  collect(executor: Executor, options?: ComputeOptions): Promise<T[]> {
    return new Item<T[]>(this.#source, this.#ops, { to: 'collect' }).compute(executor, options);
  }

  /** The same as collect. */
  compute(executor: Executor, options?: ComputeOptions): Promise<T[]> {
    return this.collect(executor, options);
  }

  /** The stages and tasks collect() would run. */
  explain(): string {
    return new Item(this.#source, this.#ops, { to: 'collect' }).explain();
  }

  #step(op: StepOp, task: unknown, args: unknown[]): Bag<any> {
    return new Bag(this.#source, [...this.#ops, { kind: 'step', op, task: checkStepTask(task, op), args }]);
  }

  #shuffle(shuffle: 'reduceByKey' | 'groupByKey' | 'distinct', task: TaskRef | undefined, options: ShuffleOptions = {}): Bag<any> {
    if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
    const { partitions } = options;
    if (partitions !== undefined && checkPositiveInteger('partitions', partitions) > MAX_SHUFFLE_PARTITIONS) {
      throw new RangeError(expected('partitions', `at most ${MAX_SHUFFLE_PARTITIONS}`, partitions));
    }
    return new Bag(this.#source, [...this.#ops, { kind: 'shuffle', shuffle, ...(task ? { task } : {}), ...(partitions ? { partitions } : {}) }]);
  }
}

/** What an action gives: lazy too, until compute(executor). */
export class Item<R> {
  readonly #source: BagSource;
  readonly #ops: readonly Op[];
  readonly #action: Action;

  /** @internal */
  constructor(source: BagSource, ops: readonly Op[], action: Action) {
    this.#source = source;
    this.#ops = ops;
    this.#action = action;
  }

  async compute(executor: Executor, options: ComputeOptions = {}): Promise<R> {
    checkExecutor(executor);
    checkComputeOptions(options);
    const action = this.#action;
    const merge = merger(action);
    if (action.to === 'take' && action.count === 0) return [] as R;
    const stages = compile(this.#source, this.#ops, action);
    await runStages(executor, stages, this.#source.partitions(), merge.accept, action.to === 'take', options);
    return merge.result() as R;
  }

  /** The stages and tasks compute() would run. */
  explain(): string {
    return explainPlan(this.#source, compile(this.#source, this.#ops, this.#action), this.#action);
  }
}

/**
 * A lazy collection of `items` in partitions: an array is split into `partitions`; an iterable
 * or async iterable streams in partitions of `partitionSize` items.
 */
export function bag<T>(items: readonly T[] | Iterable<T> | AsyncIterable<T>, options?: BagOptions): Bag<T> {
  return new Bag<T>(new BagSource(items, options));
}
