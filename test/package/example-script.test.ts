// `npm run example -- NAME` compiles only the examples (not the package and every test) and runs
// the one asked for; modules that are not programs are not offered. Run in a copy of the
// checkout's layout (symlinks) so that it never rewrites the build/ other tests read.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../src/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function example(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(cwd, 'scripts', 'example.js'), ...args], { cwd, timeout: 60_000, env }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

describe('npm run example', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-example-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (const link of ['examples', 'src', 'dist', 'node_modules', 'scripts']) symlinkSync(join(ROOT, link), join(dir, link));
  for (const file of ['package.json', 'tsconfig.base.json', 'tsconfig.examples.json']) copyFileSync(join(ROOT, file), join(dir, file));

  test('compiles only the examples and runs the one named; a module or an unknown name is refused with the list', async () => {
    const run = await example(dir, ['greenlet']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '12\n56\n34\n'); // the articles' greenlet program, switch by switch
    assert.ok(existsSync(join(dir, 'build', 'examples', 'greenlet.js')));
    assert.ok(!existsSync(join(dir, 'build', 'test')), 'the tests were compiled too');
    assert.ok(!existsSync(join(dir, 'build', 'src')), 'the package was compiled into build/ too');
    for (const name of ['wordcount-objects', 'pi-tasks', 'nope']) {
      const refused = await example(dir, [name]);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, new RegExp(`no example named "${name}"; one of: .*greenlet`));
      assert.doesNotMatch(refused.stderr.split('one of: ')[1]!, /wordcount-objects|-tasks/);
    }
  });

  test('an example that cannot connect or log in ends with one line, not a stack', async () => {
    const server = await serve({ port: 0, authkey: 'right key', expose: { countWords: () => new Map() } });
    try {
      const wrongKey = await example(dir, ['rpc-wordcount', '--connect', server.url], { ...process.env, WEFT_AUTHKEY: 'wrong key' });
      assert.equal(wrongKey.code, 1);
      assert.match(wrongKey.stderr, /^npm run example -- rpc-wordcount: AuthenticationError: [^\n]+\n$/);
    } finally {
      await server.close();
    }
    const refused = await example(dir, ['rpc-wordcount', '--connect', 'tcp://127.0.0.1:1'], { ...process.env, WEFT_AUTHKEY: 'k' });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^npm run example -- rpc-wordcount: \w*Error: [^\n]*(ECONNREFUSED|refused)[^\n]*\n$/);
  });
});
