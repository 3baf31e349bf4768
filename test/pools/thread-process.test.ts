// Thread and Process: one task on a dedicated worker, started and joined (SPEC §4).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { InvalidStateError, Process, Thread, WorkerCrashedError } from '../../src/index.js';
import { firstProgress, tempDir } from '../helpers.js';
import tasks from '../fixtures/tasks.js';
import crash from '../fixtures/crash-tasks.js';

describe('Thread', () => {
  test('start, join, isAlive, exitCode and the result', async () => {
    const thread = new Thread(tasks.sleepThen, 20, 'done');
    assert.equal(thread.isAlive(), false);
    assert.equal(thread.exitCode, null);
    thread.start();
    assert.equal(thread.isAlive(), true);
    await thread.join();
    assert.equal(thread.isAlive(), false);
    assert.equal(thread.exitCode, 0);
    assert.equal(await thread.future, 'done');
    assert.throws(() => thread.start(), InvalidStateError);
  });

  test('join(timeout) returns while the task still runs', async () => {
    const thread = new Thread(tasks.sleepThen, 300, 'late').start();
    await thread.join(10);
    assert.equal(thread.isAlive(), true);
    await thread.join();
    assert.equal(thread.exitCode, 0);
  });

  test('a task that throws gives exitCode 1; process.exit(n) gives n', async () => {
    const failing = new Thread(tasks.fail, 'no').start();
    await failing.join();
    assert.equal(failing.exitCode, 1);
    await assert.rejects(failing.future, /no/);
    const exiting = new Thread(crash.exitWith, 7).start();
    await exiting.join();
    assert.equal(exiting.exitCode, 7);
  });
});

describe('Process', () => {
  test('runs in another process with its own pid', async () => {
    const child = new Process(crash.pid).start();
    assert.equal(typeof child.pid, 'number');
    assert.notEqual(child.pid, process.pid);
    await child.join();
    assert.equal(await child.future, child.pid);
    assert.equal(child.exitCode, 0);
  });

  test('kill(signal) ends it; exitCode is minus the signal number', async () => {
    const child = new Process(tasks.sleepThen, 10_000, 'never');
    child.start();
    child.kill('SIGTERM');
    await child.join();
    assert.equal(child.isAlive(), false);
    assert.equal(child.exitCode, -15);
  });

  test('kill while the task runs: it fails with WorkerCrashedError carrying the signal', async () => {
    const child = new Process(tasks.waitForAbort, join(tempDir(), 'never-written')).start();
    await firstProgress(child.future);
    child.kill('SIGKILL');
    await child.join();
    assert.equal(child.exitCode, -9);
    await assert.rejects(child.future, (e: Error) => e instanceof WorkerCrashedError && e.signal === 'SIGKILL');
  });
});
