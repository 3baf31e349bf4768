import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BrokenBarrierError, ClosedError, ConnectionClosedError, Dict, InvalidStateError, isRemote, Manager, Queue, RemoteError, TimeoutError,
} from '../../src/index.js';

const authkey = 'manager-key';

/** A tiny served inbox whose take() rejects with TimeoutError, the way a Queue's get does. */
class Inbox {
  #items: number[] = [];
  put(item: number): void {
    this.#items.push(item);
  }
  async take(options: { timeout: number }): Promise<number> {
    if (this.#items.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, options.timeout));
      if (this.#items.length === 0) throw new TimeoutError(`nothing arrived within ${options.timeout} ms`);
    }
    return this.#items.shift()!;
  }
  get size(): number {
    return this.#items.length;
  }
}

test('a registered object is shared by the serving process and every client', async () => {
  let created = 0;
  const manager = new Manager({ port: 0, authkey }).register('inbox', () => {
    created++;
    return new Inbox();
  });
  await manager.start();
  assert.ok(manager.port > 0);
  const [a, b] = await Promise.all([Manager.connect({ port: manager.port, authkey }), Manager.connect(manager.url, { authkey })]);
  const inboxA = await a.get<Inbox>('inbox');
  const inboxB = await b.get<Inbox>('inbox');
  assert.ok(isRemote(inboxA));
  await inboxA.put(7);
  await inboxB.put(8);
  const local = await manager.get<Inbox>('inbox');
  assert.equal(local.size, 2);
  assert.equal(await inboxB.take({ timeout: 100 }), 7);
  assert.equal(created, 1, 'the factory ran once');
  assert.deepEqual(await a.names(), ['inbox']);
  await a.close();
  await b.close();
  await manager.shutdown();
});

test('a remote wait that times out rejects with TimeoutError', async () => {
  const manager = await new Manager({ authkey }).register('inbox', () => new Inbox()).start();
  const client = await Manager.connect({ port: manager.port, authkey });
  const inbox = await client.get<Inbox>('inbox');
  await assert.rejects(inbox.take({ timeout: 20 }), (error: unknown) => error instanceof TimeoutError && /nothing arrived within 20 ms/.test(error.message));
  await client.close();
  await manager.shutdown();
});

test('clients create dictionaries in the manager and share them by name', async () => {
  const shared = new Dict<string, number>();
  const manager = await new Manager({ authkey }).register('counts', () => shared).start();
  const client = await Manager.connect({ port: manager.port, authkey });
  const counts = await client.get<Dict<string, number>>('counts');
  await Promise.all(Array.from({ length: 50 }, () => counts.increment('hits')));
  assert.equal(shared.get('hits'), 50);
  await counts.update({ a: 1, b: 2 });
  assert.deepEqual((await counts.keys()).sort(), ['a', 'b', 'hits']);
  assert.equal(await counts.size, 3);
  const mine = await client.dict<string, Date>([['when', new Date(0)]]);
  assert.deepEqual(await mine.get('when'), new Date(0));
  await assert.rejects(client.create('Nope'), (error: unknown) => error instanceof RemoteError && /no kind named "Nope" can be created; the kinds are: Queue, Lock, Event, Semaphore, Barrier, Dict/.test(error.message));
  await assert.rejects(client.get('missing'), /no object named "missing" \(string\) is registered; the names are: counts/);
  await client.close();
  await manager.shutdown();
});

test('shutdown rejects pending remote calls; bad options and misuse are clear errors', async () => {
  const manager = await new Manager({ authkey }).register('inbox', () => new Inbox()).start();
  const client = await Manager.connect({ port: manager.port, authkey });
  const inbox = await client.get<Inbox>('inbox');
  const pending = inbox.take({ timeout: 60_000 });
  await manager.shutdown();
  await assert.rejects(pending, (error: unknown) => error instanceof ConnectionClosedError && /the manager is shutting down/.test(error.message));
  assert.throws(() => new Manager({ authkey }).register('bad name!', () => ({})), /Expected `name` to be a name of letters/);
  assert.throws(() => new Manager({ authkey }).register('x', () => ({})).register('x', () => ({})), InvalidStateError);
  await assert.rejects(manager.start(), /cannot start a Manager that is stopped/);
  assert.throws(() => new Manager({ authkey: '' }), /Expected `authkey` to be a non-empty string or Uint8Array/);
});

describe("weft's primitives served by a Manager", () => {
  test('a Queue shared by name: put by one client, get by another; an empty get times out with TimeoutError; close gives ClosedError', async () => {
    const tasks = new Queue<number>();
    const manager = await new Manager({ authkey }).register('tasks', () => tasks).start();
    const [producer, consumer] = await Promise.all([Manager.connect({ port: manager.port, authkey }), Manager.connect({ port: manager.port, authkey })]);
    const put = await producer.get<Queue<number>>('tasks');
    const take = await consumer.get<Queue<number>>('tasks');
    for (let i = 0; i < 10; i++) await put.put(i);
    assert.equal(await take.size, 10);
    const got: number[] = [];
    for (let i = 0; i < 10; i++) got.push(await take.get({ timeout: 1000 }));
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await assert.rejects(take.get({ timeout: 30 }), (error: unknown) => error instanceof TimeoutError && /timed out after 30 ms/.test(error.message));
    await put.close();
    await assert.rejects(take.get({ timeout: 1000 }), ClosedError);
    await producer.close();
    await consumer.close();
    await manager.shutdown();
  });

  test('clients create a Lock, an Event, a Semaphore and a Barrier in the manager and share them', async () => {
    const manager = await new Manager({ authkey }).start();
    const a = await Manager.connect({ port: manager.port, authkey });
    const lock = await a.lock();
    assert.equal(await lock.acquire(), true);
    assert.equal(await lock.acquire({ timeout: 20 }), false, 'a held lock is not acquired twice');
    await lock.release();
    assert.equal(await lock.locked(), false);

    const event = await a.event();
    const waiting = event.wait({ timeout: 5000 });
    await event.set();
    assert.equal(await waiting, true);
    assert.equal(await event.isSet(), true);

    const semaphore = await a.semaphore(2);
    assert.equal(await semaphore.acquire(), true);
    assert.equal(await semaphore.acquire(), true);
    assert.equal(await semaphore.acquire({ timeout: 20 }), false);
    await semaphore.release(2);
    assert.equal(await semaphore.value, 2);

    const barrier = await a.barrier(2);
    const arrivals = await Promise.all([barrier.wait({ timeout: 5000 }), barrier.wait({ timeout: 5000 })]);
    assert.deepEqual([...arrivals].sort(), [0, 1]);
    await barrier.abort();
    await assert.rejects(barrier.wait({ timeout: 100 }), BrokenBarrierError);
    assert.deepEqual((await a.names()), []);
    await a.close();
    await manager.shutdown();
  });
});
