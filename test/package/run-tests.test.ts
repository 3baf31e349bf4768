// scripts/run-tests.js: FILTER picks test files by path, and a hung test is named while it
// hangs and again when its file times out (it used to be silent for the whole timeout).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('scripts/run-tests.js', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-run-tests-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(ROOT, 'scripts'), join(dir, 'scripts'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  mkdirSync(join(dir, 'build', 'test', 'hung'), { recursive: true });
  writeFileSync(join(dir, 'build', 'test', 'hung', 'waits.test.js'), `import { describe, test } from 'node:test';
describe('a suite', () => {
  test('quick', () => {});
  test('waits for a reply that never comes', () => new Promise(() => { setInterval(() => {}, 1000); }));
});
`);
  writeFileSync(join(dir, 'build', 'test', 'other.test.js'), `import { test } from 'node:test';\ntest('not selected', () => { throw new Error('this file should not run'); });\n`);

  test('names a hung test while it runs and when its file times out; runs only the files FILTER selects', async () => {
    // Without NODE_TEST_CONTEXT, which tells a nested `node --test` to skip its files.
    const env: NodeJS.ProcessEnv = { ...process.env, WEFT_TEST_SLOW_MS: '500', WEFT_TEST_TIMEOUT_MS: '2500' };
    delete env.NODE_TEST_CONTEXT;
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile(process.execPath, ['scripts/run-tests.js', 'test/hung'], {
        cwd: dir, timeout: 30_000, env,
      }, (error, stdout, stderr) => resolve({ code: error ? (error.code as number | null) : 0, output: stdout + stderr }));
    });
    assert.equal(code, 1, output);
    assert.match(output, /1 test files/);
    assert.doesNotMatch(output, /not selected/);
    assert.match(output, /⏳ still running after \d+ s: build\/test\/hung\/waits\.test\.js › a suite › waits for a reply that never comes/);
    // Node 20 times out the file's process and the reporter names what still ran in it; Node 22+
    // applies the timeout to each test inside the file, and the reporter names the test.
    const fileTimedOut = /⏱ {2}build\/test\/hung\/waits\.test\.js failed \(test timed out after 2500ms\) while these tests ran:\n {3}still running after \d+ s: a suite › waits for a reply that never comes/;
    const testTimedOut = /⏱ {2}timed out after \d+ s: build\/test\/hung\/waits\.test\.js › a suite › waits for a reply that never comes\n {3}test timed out after 2500ms/;
    assert.ok(fileTimedOut.test(output) || testTimedOut.test(output), `the hung test is not named as timed out:\n${output}`);
    assert.doesNotMatch(output, /still running after \d+ s: .*quick/);
  });
});
