import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTasks, isTaskRef, lookupTask, taskAddress, taskContext, InvalidStateError } from '../../src/index.js';
import { isTaskRunner } from '../../src/core/task.js';

const tasks = defineTasks(import.meta.url, {
  double: (x: number) => x * 2,
  whoAmI: () => taskContext().attempt,
}, { namespace: 'unit' });

describe('defineTasks and TaskRef', () => {
  test('a TaskRef is callable directly, inline, with a task context', () => {
    assert.equal(tasks.double(4), 8);
    assert.equal(tasks.whoAmI(), 1);
    assert.equal(isTaskRef(tasks.double), true);
    assert.equal(isTaskRef((x: number) => x), false);
  });

  test('it knows its module, key and namespaced name, and is registered for workers', () => {
    assert.equal(tasks.double.moduleUrl, import.meta.url);
    assert.equal(tasks.double.key, 'double');
    assert.equal(tasks.double.taskName, 'unit.double');
    assert.equal(lookupTask(import.meta.url, 'double')?.fn, tasks.double.fn);
  });

  test('with() returns a configured copy and leaves the original alone', () => {
    const configured = tasks.double.with({ timeout: 100, retries: 2 }).with({ priority: 3 });
    assert.deepEqual({ ...configured.options }, { timeout: 100, retries: 2, priority: 3 });
    assert.deepEqual({ ...tasks.double.options }, {});
    assert.equal(configured(5), 10);
  });

  test('bad options and definitions say what was expected and what came', () => {
    assert.throws(() => tasks.double.with({ timeout: -5 }), /Expected `timeout` to be a non-negative finite number of milliseconds, got -5 \(number\)/);
    assert.throws(() => tasks.double.with({ retries: 1.5 }), RangeError);
    assert.throws(() => tasks.double.with({ signal: 'no' as never }), /Expected `signal` to be an AbortSignal/);
    assert.throws(() => defineTasks('tasks.js', {}), /Expected `moduleUrl` to be a module URL such as import.meta.url, got "tasks.js" \(string\)/);
    assert.throws(() => defineTasks(import.meta.url, { x: 5 as never }), /Expected `functions.x` to be a function, got 5 \(number\)/);
  });

  test('runsTasks marks tasks whose first argument lists the tasks they run, by address', () => {
    const runners = defineTasks(import.meta.url, { runAll: (_tasks: unknown[]) => 0 }, { namespace: 'unit.runners', runsTasks: true });
    assert.equal(isTaskRunner(runners.runAll), true);
    assert.equal(isTaskRunner(runners.runAll.with({ retries: 2 })), true);
    assert.equal(isTaskRunner(tasks.double), false);
    assert.deepEqual(taskAddress(tasks.double), ['unit.double', import.meta.url, 'double']);
    assert.throws(() => defineTasks(import.meta.url, {}, { runsTasks: 'yes' as never }), /Expected `runsTasks` to be a boolean, got "yes" \(string\)/);
  });

  test('taskContext() outside a task is an InvalidStateError', () => {
    assert.throws(() => taskContext(), (e: Error) => e instanceof InvalidStateError && /outside a running task/.test(e.message));
  });
});
