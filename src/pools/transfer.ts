import type { TransferListItem } from 'node:worker_threads';

/**
 * Transfer lists: `transfer(value)` marks an argument (or a task's result) whose ArrayBuffers
 * should move to the other thread instead of being copied. The mark lives in a WeakMap shared
 * by every copy of weft in this thread, so a task module importing another copy still works.
 */
/** What a transfer list may hold (ArrayBuffers, MessagePorts, ...). */
export type Transferable = TransferListItem;

type Marks = WeakMap<object, Transferable[]>;
const state: { marks: Marks; count: number } = ((globalThis as Record<symbol, unknown>)[Symbol.for('weft.transfers')] ??=
  { marks: new WeakMap(), count: 0 }) as { marks: Marks; count: number };

/**
 * Marks `value` to be moved, not copied, when it crosses to a worker thread (as a task argument)
 * or back (as a result). `list` defaults to the buffer of a typed array or DataView, or to the
 * ArrayBuffer itself. The sender's copy becomes unusable (detached). Processes ignore the mark.
 */
export function transfer<T extends object>(value: T, list?: Transferable[]): T {
  const items = list ?? defaultList(value);
  if (!Array.isArray(items) || items.length === 0) {
    throw new TypeError(`Expected \`transfer(value)\` to get an ArrayBuffer, a typed array or an explicit transfer list, got ${Object.prototype.toString.call(value)}`);
  }
  if (!state.marks.has(value)) state.count++;
  state.marks.set(value, items);
  return value;
}

/** Appends the transfer lists of marked values among `values` to `into`; clears their marks. */
export function takeTransfers(values: readonly unknown[], into: Transferable[] | undefined): Transferable[] | undefined {
  if (state.count === 0) return into;
  for (const value of values) {
    if (value === null || typeof value !== 'object') continue;
    const list = state.marks.get(value);
    if (!list) continue;
    state.marks.delete(value);
    state.count--;
    (into ??= []).push(...list);
  }
  return into;
}

function defaultList(value: object): Transferable[] | undefined {
  if (value instanceof ArrayBuffer) return [value];
  if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) return [value.buffer];
  return undefined;
}
