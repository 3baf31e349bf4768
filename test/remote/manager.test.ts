import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionClosedError, Dict, InvalidStateError, isRemote, Manager, RemoteError, TimeoutError } from '../../src/index.js';

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
  await assert.rejects(client.create('Nope'), (error: unknown) => error instanceof RemoteError && /no kind named "Nope" can be created; the kinds are: Dict/.test(error.message));
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
