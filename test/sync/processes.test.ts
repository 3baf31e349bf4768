import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Barrier, Condition, Event, Lock, Pipe, Queue, RLock, Semaphore, createObjectServer, type ObjectReplyMessage } from '../../src/index.js';
import { inProcess, startProcess } from './harness.js';

describe('sync primitives across child processes (served by the parent)', { timeout: 60_000 }, () => {
  test('Lock: held by a child, the parent cannot take it until the child releases', async () => {
    const lock = new Lock();
    const held = new Event();
    const release = new Event();
    const done = inProcess('holdLock', lock, held, release);
    assert.equal(await held.wait(), true);
    assert.equal(await lock.acquire({ timeout: 0 }), false);
    const waiting = lock.acquire();
    release.set();
    assert.equal(await waiting, true);
    assert.equal(await done, 'released');
    lock.release();
  });

  test('RLock: owned by the child process while it holds it', async () => {
    const lock = new RLock();
    const held = new Event();
    const release = new Event();
    const done = inProcess('holdLock', lock, held, release);
    await held.wait();
    assert.equal(await lock.acquire({ timeout: 0 }), false, 'the parent thread is not the owner');
    release.set();
    await done;
    assert.equal(await lock.acquire({ timeout: 0 }), true);
    lock.release();
  });

  test('Barrier: two children and the parent pass 10 rounds together', async () => {
    const barrier = new Barrier(3);
    const children = [inProcess<number[]>('barrierRounds', barrier, null, 0, 3, 10), inProcess<number[]>('barrierRounds', barrier, null, 1, 3, 10)];
    const mine: number[] = [];
    for (let round = 0; round < 10; round++) mine.push(await barrier.wait({ timeout: 10_000 }));
    const all = [...await Promise.all(children), mine];
    for (let round = 0; round < 10; round++) {
      assert.deepEqual(all.map((indexes) => indexes[round]).sort(), [0, 1, 2], `round ${round}`);
    }
  });

  test('Condition: a child waiting is woken by notify from the parent', async () => {
    const condition = new Condition();
    const waiting = new Event();
    const done = inProcess<boolean>('awaitNotify', condition, waiting);
    await waiting.wait();
    await condition.acquire();
    condition.notify();
    condition.release();
    assert.equal(await done, true);
  });

  test('Semaphore(1): two children, one inside at a time', async () => {
    const semaphore = new Semaphore(1);
    const entered = new Semaphore(0);
    const leave = new Event();
    const runs = [inProcess('semaphoreHold', semaphore, null, entered, leave), inProcess('semaphoreHold', semaphore, null, entered, leave)];
    await entered.acquire();
    assert.equal(semaphore.value, 0);
    assert.equal(await entered.acquire({ timeout: 0 }), false, 'the second child got in while the first held the unit');
    leave.set();
    await entered.acquire();
    await Promise.all(runs);
    assert.equal(semaphore.value, 1);
  });

  test('Event: a child waits for the parent, a child sets for the parent, a wait times out', async () => {
    const event = new Event();
    assert.equal(await inProcess('waitEvent', event, 20), false);
    const waiter = inProcess<boolean>('waitEvent', event, null);
    event.set();
    assert.equal(await waiter, true);
    const other = new Event();
    await inProcess('setEvent', other);
    assert.equal(other.isSet(), true);
  });

  test('Queue: two producer and two consumer processes, one putting in batches (putMany), nothing lost or duplicated', async () => {
    const queue = new Queue<string>({ maxsize: 8 });
    const consumers = [inProcess<string[]>('consume', queue), inProcess<string[]>('consume', queue)];
    await Promise.all([inProcess('produce', queue, 'a', 500), inProcess('produceBatches', queue, 'b', 500, 7)]);
    queue.close();
    const got = (await Promise.all(consumers)).flat();
    assert.equal(got.length, 1000);
    assert.equal(new Set(got).size, 1000);
    const expected = ['a', 'b'].flatMap((name) => Array.from({ length: 500 }, (_, i) => `${name}:${i}`));
    assert.deepEqual(got.sort(), expected.sort());
  });

  test('Queue: a get in a child rejects with TimeoutError when nothing came', async () => {
    const message = await inProcess<string>('getWithTimeout', new Queue(), 20);
    assert.equal(message, 'TimeoutError: Queue.get() timed out after 20 ms: the queue stayed empty');
  });

  test('a child killed while its get is being served takes nothing from the queue', async () => {
    const queue = new Queue<string>();
    let serving!: () => void;
    const getServed = new Promise<void>((resolve) => { serving = resolve; });
    const { child, done } = startProcess('getWithTimeout', [queue, 60_000], (call) => {
      if (call.method === 'get') serving();
    });
    await getServed;
    child.kill('SIGKILL');
    await assert.rejects(done, /exited \(SIGKILL\) without an answer/);
    // The harness closed the object server on exit: the abandoned get gave up its wait.
    await queue.put('kept');
    assert.equal(queue.size, 1);
    assert.equal(await queue.get({ timeout: 0 }), 'kept');
  });

  test('closing the object server makes a get it serves give up, so a later item is not taken', async () => {
    const queue = new Queue<string>();
    let answered!: (msg: ObjectReplyMessage) => void;
    const reply = new Promise<ObjectReplyMessage>((resolve) => { answered = resolve; });
    const objects = createObjectServer(answered);
    const id = objects.server.register(queue);
    objects.handleMessage({ t: 'weft:obj-call', id: 1, obj: id, method: 'get', args: [] });
    objects.close();
    const msg = await reply;
    assert.equal(msg.ok, false);
    assert.equal(!msg.ok && msg.error.name, 'CancelledError');
    await queue.put('kept');
    assert.equal(await queue.get({ timeout: 0 }), 'kept');
  });

  test('Pipe: a child answers on its end until the parent closes', async () => {
    const [mine, theirs] = Pipe<number>();
    const echo = inProcess<number>('echoDouble', theirs);
    for (let i = 1; i <= 50; i++) {
      await mine.send(i);
      assert.equal(await mine.recv({ timeout: 10_000 }), i * 2);
    }
    mine.close();
    assert.equal(await echo, 50);
  });
});
