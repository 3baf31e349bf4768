/**
 * `weft bench sync`: the cost of moving values between threads through weft's shared-memory
 * Queue and Pipe, next to a MessageChannel doing the same in the same run. This is the
 * comparison behind the choice of a shared ring for Queue (see src/sync/ring.ts): a port is
 * one-to-one and cannot bound or count, so the question is what the ring costs against it.
 *
 *   throughput: the main thread sends N small objects (or numbers, or small Float64Arrays),
 *               a worker thread takes them all
 *   round trip:  the main thread sends one value and awaits its echo, N times
 *
 * Every clock starts once the worker thread has started, warmed up a channel of its own of
 * the same kind and said 'ready': the tens of milliseconds a worker takes to boot, and V8
 * compiling its receiving code, are no part of a channel's cost per item (see sync-worker.ts).
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { encodeArgs } from '../core/shareable.js';
import { Pipe } from '../sync/pipe.js';
import { Queue } from '../sync/queue.js';
import { rateChart, roundsChart } from './chart-builders.js';
import { progressSteps, reportSpread, summarize, type BenchReport } from './harness.js';

export interface SyncBenchOptions {
  items: number;
  trips: number;
  repeats: number;
}

export const SYNC_DEFAULTS: SyncBenchOptions = { items: 100_000, trips: 5_000, repeats: 3 };

const WORKER = new URL('./sync-worker.js', import.meta.url);

type Kind = 'objects' | 'numbers' | 'typed';

/** Starts the worker; resolves once it is ready to take items, with a promise of its end. */
async function startWorker(mode: string, count: number, args: unknown[], transfer: MessagePort[] = []): Promise<{ done: Promise<void> }> {
  const worker = new Worker(WORKER, { workerData: { mode, count, args }, transferList: transfer });
  let ready!: () => void;
  const started = new Promise<void>((resolve) => { ready = resolve; });
  const done = new Promise<void>((resolve, reject) => {
    // 'ready', then 'done'; or { error } when an item arrived wrong.
    worker.on('message', (message: unknown) => {
      if (message === 'ready') ready();
      else if (message === 'done') resolve();
      else reject(new Error((message as { error: string }).error));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`weft bench sync: the ${mode} worker exited (${code}) before it was done`)));
  }).finally(() => worker.terminate());
  await Promise.race([started, done]);
  return { done };
}

function itemMaker(kind: Kind): (i: number) => unknown {
  switch (kind) {
    case 'objects': return (i) => ({ id: i, name: 'item', tags: ['a', 'b'] });
    case 'numbers': return (i) => i;
    case 'typed': return (i) => new Float64Array([i, 1, 2, 3, 4, 5, 6, 7]);
  }
}

/** Seconds from the first send until the worker has taken `items` values. */
async function throughput(mode: 'queue' | 'queue-many' | 'port', items: number, kind: Kind): Promise<number> {
  const item = itemMaker(kind);
  if (mode !== 'port') {
    const queue = new Queue();
    const { done } = await startWorker(mode, items, encodeArgs([queue], 'thread') as unknown[]);
    const start = performance.now();
    for (let i = 0; i < items; i++) await queue.put(item(i));
    await done;
    return (performance.now() - start) / 1000;
  }
  const { port1, port2 } = new MessageChannel();
  const { done } = await startWorker('port', items, [port2], [port2]);
  const start = performance.now();
  for (let i = 0; i < items; i++) port1.postMessage(item(i));
  await done;
  port1.close();
  return (performance.now() - start) / 1000;
}

/** Seconds for `trips` awaited round trips of a small value. */
async function roundTrips(mode: 'pipe' | 'port', trips: number): Promise<number> {
  if (mode === 'pipe') {
    const [mine, theirs] = Pipe<number>();
    const { done } = await startWorker('pipe', trips, encodeArgs([theirs], 'thread') as unknown[]);
    const start = performance.now();
    for (let i = 0; i < trips; i++) {
      await mine.send(i);
      const echoed = await mine.recv();
      if (echoed !== i) throw new Error(`weft bench sync (pipe): sent ${i}, got back ${JSON.stringify(echoed)}`);
    }
    const seconds = (performance.now() - start) / 1000;
    await done;
    return seconds;
  }
  const { port1, port2 } = new MessageChannel();
  const { done } = await startWorker('port-echo', trips, [port2], [port2]);
  const start = performance.now();
  for (let i = 0; i < trips; i++) {
    const echoed = await new Promise((resolve) => { port1.once('message', resolve); port1.postMessage(i); });
    if (echoed !== i) throw new Error(`weft bench sync (port): sent ${i}, got back ${JSON.stringify(echoed)}`);
  }
  const seconds = (performance.now() - start) / 1000;
  await done;
  port1.close();
  return seconds;
}

export async function benchSync(options: SyncBenchOptions): Promise<BenchReport> {
  const { items, trips, repeats } = options;
  const samples: Record<string, number[]> = { queue: [], port: [], 'queue-n': [], 'port-n': [], 'queue-t': [], 'port-t': [], 'many-o': [], 'many-n': [], pipe: [], 'port-echo': [] };
  // Warm-up, then the modes alternate so that a noisy neighbour hits each alike.
  await throughput('queue', Math.min(items, 10_000), 'objects');
  await throughput('port', Math.min(items, 10_000), 'objects');
  const runs: [key: string, run: () => Promise<number>][] = [
    ['queue', () => throughput('queue', items, 'objects')],
    ['port', () => throughput('port', items, 'objects')],
    ['queue-n', () => throughput('queue', items, 'numbers')],
    ['port-n', () => throughput('port', items, 'numbers')],
    ['queue-t', () => throughput('queue', items, 'typed')],
    ['port-t', () => throughput('port', items, 'typed')],
    ['many-o', () => throughput('queue-many', items, 'objects')],
    ['many-n', () => throughput('queue-many', items, 'numbers')],
    ['pipe', () => roundTrips('pipe', trips)],
    ['port-echo', () => roundTrips('port', trips)],
  ];
  const steps = progressSteps(repeats * runs.length);
  for (let r = 0; r < repeats; r++) {
    for (const [key, run] of runs) {
      steps.running(key, `run ${r + 1}/${repeats}`);
      const seconds = await run();
      samples[key]!.push(seconds);
      steps.finished(key, `run ${r + 1}/${repeats}`, `${seconds.toFixed(3)} s`);
    }
  }
  steps.end();
  const median = (key: string) => summarize(samples[key]!).median;
  const queueRate = items / median('queue');
  const portRate = items / median('port');
  const queueNumbers = items / median('queue-n');
  const portNumbers = items / median('port-n');
  const queueTyped = items / median('queue-t');
  const portTyped = items / median('port-t');
  const manyObjects = items / median('many-o');
  const manyNumbers = items / median('many-n');
  const pipeUs = (median('pipe') / trips) * 1e6;
  const portUs = (median('port-echo') / trips) * 1e6;
  return {
    title: `weft bench sync: ${items.toLocaleString('en-US')} items one way, ${trips.toLocaleString('en-US')} awaited round trips, main thread ⇄ worker thread (median of ${repeats})`,
    header: ['channel', 'objects/s', 'numbers/s', 'Float64Array(8)/s', 'round trip µs', 'vs MessageChannel'],
    rows: [
      ['weft Queue (shared ring)', queueRate, queueNumbers, queueTyped, undefined, `${(queueRate / portRate).toFixed(2)}× objects, ${(queueNumbers / portNumbers).toFixed(2)}× numbers, ${(queueTyped / portTyped).toFixed(2)}× typed`],
      ['weft Queue, getMany(256) consumer', manyObjects, manyNumbers, undefined, undefined, `${(manyObjects / portRate).toFixed(2)}× objects, ${(manyNumbers / portNumbers).toFixed(2)}× numbers`],
      ['weft Pipe (shared rings)', undefined, undefined, undefined, pipeUs, `${(portUs / pipeUs).toFixed(2)}× round trip speed`],
      ['MessageChannel', portRate, portNumbers, portTyped, portUs, '1.00×'],
    ],
    notes: [
      'A MessageChannel is one producer to one consumer, unbounded and uncounted; the Queue serves any number of',
      'threads, can be bounded (put waits) and has a size. Ratios above 1 mean weft is faster. Each clock starts once',
      'the worker is ready and warm. Numbers, strings and typed arrays are copied raw, plain objects go through msgpack, the',
      'rest through v8.serialize (src/sync/item-codec.ts). The getMany row batches the consumer only: the producer',
      'still puts one item at a time, as the MessageChannel row posts one.',
    ],
    charts: [
      rateChart('small objects sent one way', 'objects/s', items, [{ label: 'weft Queue (shared ring)', rounds: summarize(samples.queue!) }, { label: 'MessageChannel', rounds: summarize(samples.port!) }]),
      rateChart('numbers sent one way', 'numbers/s', items, [{ label: 'weft Queue (shared ring)', rounds: summarize(samples['queue-n']!) }, { label: 'MessageChannel', rounds: summarize(samples['port-n']!) }]),
      rateChart('Float64Array(8) sent one way', 'arrays/s', items, [{ label: 'weft Queue (shared ring)', rounds: summarize(samples['queue-t']!) }, { label: 'MessageChannel', rounds: summarize(samples['port-t']!) }]),
      // Per round trip: each round's seconds over its trips, in µs.
      roundsChart('awaited round trip', 'µs', false, [
        { label: 'weft Pipe (shared rings)', rounds: perTrip(summarize(samples.pipe!), trips) },
        { label: 'MessageChannel', rounds: perTrip(summarize(samples['port-echo']!), trips) },
      ]),
    ],
    spread: reportSpread(Object.values(samples)),
    data: { items, trips, repeats, samples, queueRate, portRate, queueNumbers, portNumbers, queueTyped, portTyped, manyObjects, manyNumbers, pipeUs, portUs },
  };
}

function perTrip(seconds: { median: number; min: number; max: number }, trips: number): { median: number; min: number; max: number } {
  return { median: (seconds.median / trips) * 1e6, min: (seconds.min / trips) * 1e6, max: (seconds.max / trips) * 1e6 };
}
