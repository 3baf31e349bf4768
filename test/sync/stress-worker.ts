// A producer or consumer thread of stress.test.ts. workerData: { role, style, id, count, args }.
// Each role uses one way of calling the queue, so that every path of the ring runs at once:
// 'fast' (no options; the producer puts batches with putMany, the consumer takes them with getMany), 'timeout' (a long timeout: the
// waiting path), 'signal' (an AbortSignal).
import { parentPort, workerData } from 'node:worker_threads';
import { decodeArgs } from '../../src/core/shareable.js';
import { ClosedError, serializeError, type Queue, type WaitOptions } from '../../src/index.js';
import { origin } from './stress-items.js';

type Style = 'fast' | 'timeout' | 'signal';
const { role, style, id, count, args, untilClosed } = workerData as { role: 'produce' | 'consume'; style: Style; id: number; count: number; args: unknown[]; untilClosed?: boolean };
const [queue] = decodeArgs(args, 'thread') as [Queue<unknown>];

function options(): WaitOptions | undefined {
  if (style === 'timeout') return { timeout: 60_000 };
  if (style === 'signal') return { signal: new AbortController().signal };
  return undefined;
}

/** The seq-th item of producer `id`, in turns a number, a plain object, a Float64Array and a Map. */
function item(seq: number): unknown {
  switch (seq % 4) {
    case 0: return id * 1_000_000 + seq;
    case 1: return { producer: id, seq, pad: 'x'.repeat(seq % 50) };
    case 2: return new Float64Array([id, seq]);
    default: return new Map([['producer', id], ['seq', seq]]);
  }
}

/** How many items were put: all `count`, or (`untilClosed`) as many as went in before the close. */
async function produce(): Promise<number> {
  // The 'fast' producer puts batches of 1 to 9 items with putMany, beside the others' single puts.
  if (style === 'fast' && !untilClosed) {
    for (let seq = 0; seq < count;) {
      const batch = Array.from({ length: Math.min(1 + (seq % 9), count - seq) }, (_, i) => item(seq + i));
      await queue.putMany(batch);
      seq += batch.length;
    }
    return count;
  }
  for (let seq = 0; seq < count; seq++) {
    try {
      await queue.put(item(seq), options());
    } catch (error) {
      if (untilClosed && error instanceof ClosedError) return seq;
      throw error;
    }
  }
  return count;
}

/**
 * Every item taken, as producer * 1e6 + seq, in the order taken, until a null (not a close:
 * close wakes every sleeper, which would hide a lost wake-up).
 */
async function consume(): Promise<number[]> {
  const taken: number[] = [];
  for (;;) {
    // The 'fast' consumer takes batches: getMany shares the ring with the single gets.
    let values: unknown[];
    try {
      values = style === 'fast' ? await queue.getMany(7) : [await queue.get(options())];
    } catch (error) {
      if (untilClosed && error instanceof ClosedError) return taken;
      throw error;
    }
    for (const [i, value] of values.entries()) {
      if (value === null) {
        // Other consumers' nulls taken in the same batch go back for them.
        for (const extra of values.slice(i + 1)) await queue.put(extra);
        return taken;
      }
      const [producer, seq] = origin(value);
      taken.push(producer * 1_000_000 + seq);
    }
  }
}

(role === 'produce' ? produce() : consume()).then(
  (value) => parentPort!.postMessage({ ok: true, value }),
  (error: unknown) => parentPort!.postMessage({ ok: false, error: serializeError(error) }),
);
