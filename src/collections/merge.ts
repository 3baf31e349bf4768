import type { Key } from './keys.js';
import type { Action } from './plan.js';
import { combiner, type Fn } from './writers.js';

/**
 * The caller's end of an action: the last stage's results arrive here in partition order
 * (`accept` answers false once it wants no more), and `result()` merges them.
 */
export interface Merger {
  accept(partition: number, result: unknown): boolean;
  result(): unknown;
}

export function merger(action: Action): Merger {
  switch (action.to) {
    case 'collect':
    case 'take': {
      const items: unknown[] = [];
      const limit = action.to === 'take' ? action.count : Infinity;
      return {
        accept: (_, result) => {
          for (const value of result as unknown[]) if (items.length < limit) items.push(value);
          return items.length < limit;
        },
        result: () => items,
      };
    }
    case 'count': {
      let count = 0;
      return { accept: (_, result) => ((count += result as number), true), result: () => count };
    }
    case 'reduce':
    case 'fold': {
      const combine = combiner(action.task as unknown as Fn, action.task.taskName);
      const partial: unknown[] = [];
      return {
        accept: (_, result) => {
          if (action.to === 'fold') partial.push(result);
          else partial.push(...(result as unknown[])); // an empty partition sent []
          return true;
        },
        result: () => {
          if (action.to === 'fold') return partial.reduce(combine, action.zero);
          if (partial.length === 0) throw new TypeError('reduce() of an empty Bag has nothing to reduce; fold(zero, task) gives zero for an empty Bag');
          return partial.reduce(combine);
        },
      };
    }
    case 'countByKey':
    case 'countByValue': {
      const counts = new Map<Key, number>();
      return {
        accept: (_, result) => {
          const flat = result as unknown[];
          for (let i = 0; i + 1 < flat.length; i += 2) counts.set(flat[i] as Key, (counts.get(flat[i] as Key) ?? 0) + (flat[i + 1] as number));
          return true;
        },
        result: () => counts,
      };
    }
  }
}
