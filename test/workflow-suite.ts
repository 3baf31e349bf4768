/**
 * Celery's canvas (group, chain, chord), written once and run on every executor: the core's
 * test runs it on the in-process executors and a pool, the durable cluster's on a broker.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CancelledError, chain, chord, group, sig, type Executor } from '../src/index.js';
import ct from './fixtures/cluster-tasks.js';
import tasks from './fixtures/tasks.js';

export function workflowChecks(name: string, create: () => Executor | Promise<Executor>): void {
  describe(`${name}: group, chain, chord`, () => {
    async function withExecutor(body: (executor: Executor) => Promise<void>): Promise<void> {
      const executor = await create();
      try {
        await body(executor);
      } finally {
        await executor.shutdown({ cancelPending: true });
      }
    }

    test('group runs its members and resolves to their results in order', async () => {
      await withExecutor(async (executor) => {
        const results = await group(sig(tasks.sleepThen, 30, 'slow'), sig(tasks.square, 4), sig(ct.add, 1, 2)).run(executor);
        assert.deepEqual(results, ['slow', 16, 3]);
        assert.deepEqual(await group([1, 2, 3].map((x) => sig(tasks.square, x))).run(executor), [1, 4, 9]);
        assert.deepEqual(await group([]).run(executor), []);
      });
    });

    test('chain prepends each result to the next step, as Celery does', async () => {
      await withExecutor(async (executor) => {
        // add(2, 2) = 4; add(4, 4) = 8; square(8) = 64
        assert.equal(await chain(sig(ct.add, 2, 2), sig(ct.add, 4), sig(tasks.square)).run(executor), 64);
      });
    });

    test('chord runs its header as a group, then the body over the list of results', async () => {
      await withExecutor(async (executor) => {
        const header = [1, 2, 3, 4].map((x) => sig(tasks.square, x));
        assert.equal(await chord(header, sig(ct.sum)).run(executor), 30);
        // Nested: a chain whose middle step is a group fed by the previous result.
        const nested = chain(sig(ct.add, 1, 2), group(sig(ct.add, 10), sig(ct.add, 20)), sig(ct.sum));
        assert.equal(await nested.run(executor), 13 + 23);
      });
    });

    test('the first failure rejects the workflow and cancels the members still running', async () => {
      await withExecutor(async (executor) => {
        const slow = sig(tasks.sleepThen, 5000, 'never');
        const started = Date.now();
        await assert.rejects(group(sig(ct.fail, 'member failed'), slow).run(executor), /member failed/);
        assert.ok(Date.now() - started < 4000, 'the slow member was not cancelled');
        await assert.rejects(chain(sig(ct.fail, 'first step'), sig(tasks.square)).run(executor), /first step/);
      });
    });

    test('a group of one task\'s signatures runs as one map: in order, first failure, cancellation', async () => {
      await withExecutor(async (executor) => {
        const items = Array.from({ length: 40 }, (_, i) => i);
        const results = await group(items.map((i) => sig(tasks.itemAndChunk, i))).run(executor);
        assert.deepEqual(results.map(([item]) => item), items);
        // A chain's input reaches every member first.
        assert.deepEqual(await chain(sig(ct.add, 1, 1), group(sig(ct.add, 10), sig(ct.add, 20))).run(executor), [12, 22]);
        await assert.rejects(group(sig(ct.fail, 'first of two'), sig(ct.fail, 'first of two')).run(executor), /first of two/);
        const controller = new AbortController();
        const running = group(sig(tasks.sleepThen, 5000, 'a'), sig(tasks.sleepThen, 5000, 'b')).run(executor, { signal: controller.signal });
        setTimeout(() => controller.abort(), 20);
        const started = Date.now();
        await assert.rejects(running, CancelledError);
        assert.ok(Date.now() - started < 4000, 'the members were not cancelled');
      });
    });

    test('the signal option cancels the workflow', async () => {
      await withExecutor(async (executor) => {
        const controller = new AbortController();
        const running = chord([sig(tasks.sleepThen, 5000, 'a')], sig(ct.sum)).run(executor, { signal: controller.signal });
        setTimeout(() => controller.abort(), 20);
        await assert.rejects(running, CancelledError);
      });
    });
  });
}

