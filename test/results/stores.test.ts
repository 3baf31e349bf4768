// The result-store contract (src/results/store.ts), against every store and a real server of
// each kind: first settle wins (also when many race), get/getMany, ttl, bytes kept as they are.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openResultStore } from '../../src/results/open.js';
import type { ResultStore } from '../../src/results/store.js';

const stores: [string, string][] = [
  ['memory', 'memory://results-test'],
  ['redis', 'redis://127.0.0.1:6379'],
  ['nats', 'nats://127.0.0.1:4222'],
];

for (const [kind, url] of stores) {
  describe(`result store: ${kind}`, () => {
    const opened: ResultStore[] = [];
    const open = async () => {
      const store = await openResultStore(url, { ttl: 60_000 });
      opened.push(store);
      return store;
    };
    after(() => Promise.all(opened.map((s) => s.close())));
    const id = () => `test-${randomBytes(6).toString('hex')}`;

    test('the first settle wins; get returns its bytes from any client', async () => {
      const [a, b] = [await open(), await open()];
      const key = id();
      assert.equal(await a.get(key), undefined);
      assert.equal(await a.settle(key, Uint8Array.of(1, 2, 3), 60_000), true);
      assert.equal(await b.settle(key, Uint8Array.of(9), 60_000), false);
      assert.deepEqual([...(await b.get(key))!], [1, 2, 3]);
    });

    test('of many settles racing from two clients, exactly one wins', async () => {
      const [a, b] = [await open(), await open()];
      const key = id();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).settle(key, Uint8Array.of(i), 60_000)));
      assert.equal(results.filter(Boolean).length, 1);
      const winner = results.indexOf(true);
      assert.deepEqual([...(await a.get(key))!], [winner]);
    });

    test('getMany reads several ids in order, undefined where none is stored', async () => {
      const store = await open();
      const keys = [id(), id(), id()];
      await store.settle(keys[0]!, Uint8Array.of(0), 60_000);
      await store.settle(keys[2]!, Uint8Array.of(2), 60_000);
      const got = await store.getMany(keys);
      assert.deepEqual(got.map((v) => (v ? [...v] : v)), [[0], undefined, [2]]);
      assert.deepEqual(await store.getMany([]), []);
    });

    test('ids of any characters work', async () => {
      const store = await open();
      const key = `odd id/${randomBytes(3).toString('hex')} ✓.*>`;
      assert.equal(await store.settle(key, Uint8Array.of(7), 60_000), true);
      assert.deepEqual([...(await store.get(key))!], [7]);
    });

    if (kind !== 'nats') {
      // NATS ages a whole bucket (its max age is set when the bucket is made), not one key.
      test('a record is forgotten after its ttl', async () => {
        const store = await open();
        const key = id();
        await store.settle(key, Uint8Array.of(1), 50);
        const deadline = Date.now() + 5000;
        while ((await store.get(key)) !== undefined) {
          assert.ok(Date.now() < deadline, 'the record was still there 5 s after its 50 ms ttl');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.equal(await store.settle(key, Uint8Array.of(2), 50), true, 'an expired id can be settled again');
      });
    }
  });
}

for (const [kind, url] of stores) {
  test(`result store: ${kind}: forget removes a record, and the id can be settled again`, async () => {
    const store = await openResultStore(url, { ttl: 60_000 });
    try {
      const key = `forget-${randomBytes(6).toString('hex')}`;
      await store.settle(key, Uint8Array.of(1), 60_000);
      await store.forget(key);
      assert.equal(await store.get(key), undefined);
      assert.equal(await store.settle(key, Uint8Array.of(2), 60_000), true);
      assert.deepEqual([...(await store.get(key))!], [2]);
      await store.forget(`never-${key}`);
    } finally {
      await store.close();
    }
  });
}
