import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GreenPool, InlineExecutor, ThreadPool, chain, chord, group, sig } from '../../src/index.js';
import { workflowChecks } from '../workflow-suite.js';
import ct from '../fixtures/cluster-tasks.js';
import tasks from '../fixtures/tasks.js';

workflowChecks('InlineExecutor', () => new InlineExecutor());
workflowChecks('GreenPool', () => new GreenPool({ size: 8 }));
workflowChecks('ThreadPool', () => new ThreadPool({ workers: 2 }));

test('a group of one task\'s signatures is cut into chunks where the executor cuts maps', async () => {
  await using pool = new ThreadPool({ workers: 2 });
  const results = await group(Array.from({ length: 200 }, (_, i) => sig(tasks.itemAndChunk, i))).run(pool);
  const chunks = new Set(results.map(([, chunk]) => chunk));
  assert.ok(chunks.size < 200 && chunks.size > 1, `200 members ran in ${chunks.size} chunks`);
});

describe('workflow arguments', () => {
  test('bad members and executors say what was expected', () => {
    assert.throws(() => group(42 as never), /Expected `group member 0` to be a workflow/);
    assert.throws(() => (chain as (...steps: unknown[]) => unknown)(), /at least one step/);
    assert.throws(() => sig(42 as never), TypeError);
    assert.throws(() => group().run({} as never), /Expected `executor` to be an Executor/);
  });
});
