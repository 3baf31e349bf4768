import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers.js';
import { ClosedError, InvalidStateError, Pipe, PipeEnd, Queue, TimeoutError, Timer } from '../../src/index.js';

describe('Queue in one thread', { timeout: 30_000 }, () => {
  test('FIFO, structured-cloned items, size', async () => {
    const queue = new Queue<unknown>();
    const item = { when: new Date(0), tags: new Set(['a']), map: new Map([[1, 2n]]), bytes: new Uint8Array([1, 2]) };
    await queue.put(1);
    await queue.put(item);
    await queue.put('three');
    assert.equal(queue.size, 3);
    assert.equal(await queue.get(), 1);
    const copy = await queue.get();
    assert.deepEqual(copy, item);
    assert.notEqual(copy, item);
    assert.equal(await queue.get(), 'three');
    assert.equal(queue.size, 0);
  });

  test('primitives keep their exact values (-0, NaN, lone surrogates, undefined)', async () => {
    const queue = new Queue<unknown>();
    const values = [0, -0, NaN, Infinity, 1.5e-300, 2 ** 53 + 2, '', 'héllo 🧵', 'lone \ud800 surrogate', true, false, null, undefined, [undefined], { n: -0 }];
    for (const value of values) await queue.put(value);
    for (const value of values) assert.deepStrictEqual(Object.is(value, -0) ? Object.is(await queue.get(), -0) : await queue.get(), Object.is(value, -0) ? true : value);
  });

  test('get({ timeout }) rejects with TimeoutError when nothing came', async () => {
    const queue = new Queue();
    await assert.rejects(queue.get({ timeout: 10 }), (error) => error instanceof TimeoutError && error.message === 'Queue.get() timed out after 10 ms: the queue stayed empty');
    await assert.rejects(queue.get({ timeout: 0 }), TimeoutError);
  });

  test('a bounded queue makes put wait, and put({ timeout }) reject, while full', async () => {
    const queue = new Queue<number>({ maxsize: 2 });
    await queue.put(1);
    await queue.put(2);
    await assert.rejects(queue.put(3, { timeout: 10 }), (error) => error instanceof TimeoutError && /the queue stayed full \(2 items\)/.test(error.message));
    const waiting = queue.put(3);
    assert.equal(await queue.get(), 1);
    await waiting;
    assert.deepEqual([await queue.get(), await queue.get()], [2, 3]);
  });

  test('the ring wraps and grows: many items of varied sizes come out intact and in order', async () => {
    const queue = new Queue<string>();
    const sent: string[] = [];
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) {
        const item = 'x'.repeat((round * 37 + i * 101) % 3000) + `#${round}.${i}`;
        sent.push(item);
        await queue.put(item);
      }
      for (let i = 0; i < 5; i++) assert.equal(await queue.get(), sent.shift());
    }
    while (sent.length > 0) assert.equal(await queue.get(), sent.shift());
  });

  test('a ring that wraps grows intact, also when maxBytes caps the growth short of doubling', async () => {
    // Records are 5 + 100 and 5 + 200 bytes: at most 5,315 live, which 4096 + 1500 holds.
    for (const maxBytes of [64 * 1024 * 1024, 4096 + 1500, 9000]) {
      const queue = new Queue<string>({ maxBytes });
      const sent: string[] = [];
      let next = 0;
      const put = async (length: number) => {
        const item = `${next++}:`.padEnd(length, 'y');
        sent.push(item);
        await queue.put(item, { timeout: 5000 });
      };
      // Fill part of the first 4096 bytes, take some so that the ring wraps, then outgrow it.
      for (let i = 0; i < 30; i++) await put(100);
      for (let i = 0; i < 25; i++) assert.equal(await queue.get(), sent.shift());
      for (let i = 0; i < 30; i++) await put(100);
      for (let i = 0; i < 8; i++) await put(200);
      while (sent.length > 0) assert.equal(await queue.get(), sent.shift(), `maxBytes ${maxBytes}`);
    }
  });

  test('getMany takes 1 to max items in order, waits while there is none, wakes as many putters as it made room for', async () => {
    const queue = new Queue<unknown>({ maxsize: 3 });
    const later = queue.getMany(10);
    await queue.put('first');
    assert.deepEqual(await later, ['first']);
    const items = [1, { two: 2 }, new Float64Array([3]), 'four', new Map([[5, 5]]), 6n];
    const puts = items.map((item) => queue.put(item));
    assert.deepStrictEqual(await queue.getMany(2), items.slice(0, 2));
    // Room for two: both of the first two waiting putters are woken (a hang here: one was not).
    await Promise.all(puts.slice(0, 5));
    assert.equal(queue.size, 3);
    assert.deepStrictEqual(await queue.getMany(10), items.slice(2, 5));
    await Promise.all(puts);
    assert.deepStrictEqual(await queue.getMany(10), items.slice(5));
    await assert.rejects(queue.getMany(0), { name: 'RangeError', message: 'Expected `max` to be a positive integer, got 0 (number)' });
    await assert.rejects(queue.getMany(3, { timeout: 5 }), TimeoutError);
    queue.close();
    await assert.rejects(queue.getMany(3), ClosedError);
  });

  test('putMany appends a batch in order, waits for room on a bounded queue, and wakes a waiting getter', async () => {
    const queue = new Queue<unknown>({ maxsize: 3 });
    const waiting = queue.get();
    const items = [1, { two: 2 }, new Float64Array([3]), 'four', new Map([[5, 5]]), 6n, undefined];
    const put = queue.putMany(items);
    // A get that waited for an item gets the batch's first one (a hang here: it was not woken).
    assert.equal(await waiting, 1);
    const got: unknown[] = [];
    while (got.length < items.length - 1) got.push(...(await queue.getMany(2, { timeout: 5000 })));
    await put;
    assert.deepStrictEqual(got, items.slice(1));
    assert.equal(queue.size, 0);
    await queue.putMany([]);
    assert.equal(queue.size, 0, 'an empty batch puts nothing');
  });

  test('putMany refuses a batch holding an item it cannot send before any goes in; a close or timeout part-way says how many went in', async () => {
    const queue = new Queue<unknown>({ maxsize: 2, maxBytes: 256 });
    await assert.rejects(queue.putMany([1, 2, () => 3]), { name: 'TypeError', message: /Queue\.putMany\(\): expected a structured-clonable item/ });
    await assert.rejects(queue.putMany([1, 'y'.repeat(300)]), { name: 'RangeError', message: /does not fit in a queue of at most 256 bytes/ });
    await assert.rejects(queue.putMany('ab' as unknown as unknown[]), { name: 'TypeError', message: 'Expected `items` to be an array, got "ab" (string)' });
    assert.equal(queue.size, 0, 'nothing went in from a refused batch');
    await assert.rejects(queue.putMany([1, 2, 3, 4], { timeout: 5 }), {
      name: 'TimeoutError',
      message: 'Queue.putMany() timed out after 5 ms: the queue stayed full (2 items) (the first 2 of 4 items went in)',
    });
    assert.deepEqual(await queue.getMany(5), [1, 2]);
    await queue.put('a');
    const partly = queue.putMany(['b', 'c', 'd']);
    assert.equal(await queue.get(), 'a'); // room for 'b' and 'c': 'd' waits
    await until(() => queue.size === 2, 5000, "putMany's second item to go in");
    queue.close();
    await assert.rejects(partly, { name: 'ClosedError', message: 'Queue.putMany(): the queue is closed (the first 2 of 3 items went in)' });
    assert.deepEqual([await queue.get(), await queue.get()], ['b', 'c']);
    await assert.rejects(queue.putMany([1]), { name: 'ClosedError', message: 'Queue.putMany(): the queue is closed' });
  });

  test('getMany across a wrapped ring: every payload decoded from its own aligned offset', async () => {
    const queue = new Queue<unknown>({ maxBytes: 700 });
    const sent: unknown[] = [];
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 5; i++) {
        const n = round * 5 + i;
        const item = [n + 0.25, `s${'é'.repeat(n % 7)}`, new Float64Array([n, -n]), new Int16Array([n]), { n }, Buffer.from([n & 255])][n % 6];
        sent.push(item);
        await queue.put(item, { timeout: 5000 });
      }
      const got = await queue.getMany(4);
      assert.deepStrictEqual(got, sent.splice(0, got.length));
    }
    while (sent.length > 0) {
      const got = await queue.getMany(3);
      assert.deepStrictEqual(got, sent.splice(0, got.length));
    }
  });

  test('maxBytes bounds the bytes: an oversized item is a RangeError, a full one waits', async () => {
    const queue = new Queue<string>({ maxBytes: 64 });
    await assert.rejects(queue.put('y'.repeat(100)), { name: 'RangeError', message: /an item of \d+ serialised bytes does not fit in a queue of at most 64 bytes/ });
    await queue.put('z'.repeat(40));
    await assert.rejects(queue.put('z'.repeat(40), { timeout: 5 }), TimeoutError);
    const waiting = queue.put('w'.repeat(40));
    assert.equal(await queue.get(), 'z'.repeat(40));
    await waiting;
    assert.equal(await queue.get(), 'w'.repeat(40));
  });

  test('close: puts reject, gets drain then reject, waiting getters wake, iteration ends', async () => {
    const queue = new Queue<number>();
    const empty = new Queue<number>();
    const waiter = empty.get();
    empty.close();
    await assert.rejects(waiter, (error) => error instanceof ClosedError && error.message === 'Queue.get(): the queue is closed and empty');
    await queue.put(1);
    await queue.put(2);
    queue.close();
    assert.equal(queue.closed, true);
    await assert.rejects(queue.put(3), (error) => error instanceof ClosedError && error.message === 'Queue.put(): the queue is closed');
    const drained: number[] = [];
    for await (const item of queue) drained.push(item);
    assert.deepEqual(drained, [1, 2]);
  });

  test('bad options', () => {
    assert.throws(() => new Queue({ maxsize: -1 }), { name: 'RangeError', message: 'Expected `maxsize` to be a non-negative integer, got -1 (number)' });
    assert.throws(() => new Queue({ maxBytes: 0 }), { name: 'RangeError', message: 'Expected `maxBytes` to be a positive integer, got 0 (number)' });
    assert.throws(() => new Queue(3 as unknown as object), { name: 'TypeError', message: 'Expected `options` to be an object such as { maxsize: 10 }, got 3 (number)' });
  });

  test('a value that cannot be cloned is refused at put and nothing is queued', async () => {
    const queue = new Queue<unknown>();
    await assert.rejects(queue.put(() => 1), { name: 'TypeError', message: /^Queue\.put\(\): expected a structured-clonable item, got one that is not \(\(\) => 1 could not be cloned\.\)$/ });
    assert.equal(queue.size, 0);
  });
});

describe('Pipe in one thread', { timeout: 30_000 }, () => {
  test('both directions, in order; closing one end ends the other after what was sent', async () => {
    const [a, b] = Pipe<string>();
    await a.send('one');
    await a.send('two');
    await b.send('back');
    assert.equal(await b.recv(), 'one');
    assert.equal(await a.recv(), 'back');
    assert.equal(b.pending, 1);
    a.close();
    assert.equal(await b.recv(), 'two');
    await assert.rejects(b.recv(), ClosedError);
    await assert.rejects(b.send('late'), ClosedError);
    await assert.rejects(a.recv(), (error) => error instanceof ClosedError && error.message === 'PipeEnd.recv(): this end is closed');
    await assert.rejects(b.recv({ timeout: -5 }), RangeError);
  });

  test('recv({ timeout }) rejects with TimeoutError; ends are not constructed directly', async () => {
    const [a] = Pipe();
    await assert.rejects(a.recv({ timeout: 5 }), TimeoutError);
    assert.throws(() => new PipeEnd(), { name: 'TypeError', message: /call Pipe\(\)/ });
  });
});

describe('Timer', { timeout: 30_000 }, () => {
  test('runs fn with its arguments after start; join gives its result', async () => {
    const timer = new Timer(5, (a: number, b: number) => a + b, 2, 3);
    assert.equal(timer.isAlive(), false);
    timer.start();
    assert.equal(timer.isAlive(), true);
    assert.equal(await timer.join(), 5);
    assert.equal(timer.finished, true);
    assert.throws(() => timer.start(), InvalidStateError);
  });

  test('cancel before it fires: fn never runs, join resolves undefined', async () => {
    let ran = false;
    const timer = new Timer(10_000, () => { ran = true; }).start();
    timer.cancel();
    assert.equal(await timer.join(), undefined);
    assert.equal(ran, false);
    assert.equal(timer.isAlive(), false);
  });

  test('join rejects with what fn threw; bad arguments are refused', async () => {
    const timer = new Timer(0, () => { throw new Error('in timer'); }).start();
    await assert.rejects(timer.join(), { message: 'in timer' });
    assert.throws(() => new Timer(-1, () => {}), { name: 'RangeError', message: 'Expected `ms` to be a non-negative finite number of milliseconds, got -1 (number)' });
    assert.throws(() => new Timer(1, 'go' as unknown as () => void), { name: 'TypeError', message: 'Expected `fn` to be a function, got "go" (string)' });
  });
});
