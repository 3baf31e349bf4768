// weft installed from npm has none of the peer libraries (piscina, tinypool, workerpool, bullmq:
// devDependencies here). `--peers` then stops before any work with one line naming the packages
// to install, exit 1, never `Cannot find package` in a stack trace halfway through a run. The
// test hides packages from the child process alone, with a module resolve hook it loads.
import { runWeft, type WeftRun } from './run-weft.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';


/** A `--import` module whose resolve hook answers `hidden` packages as Node does for a missing one. */
function hiding(hidden: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-peers-'));
  writeFileSync(join(dir, 'hooks.mjs'), `const hidden = ${JSON.stringify(hidden)};
export async function resolve(specifier, context, next) {
  if (hidden.includes(specifier)) {
    const error = new Error(\`Cannot find package '\${specifier}' imported from \${context.parentURL}\`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}
`);
  writeFileSync(join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister(new URL('./hooks.mjs', import.meta.url));\n");
  return pathToFileURL(join(dir, 'register.mjs')).href;
}

function weft(args: string[], hidden: string[]): Promise<WeftRun> {
  return runWeft(args, { nodeArgs: ['--import', hiding(hidden)], timeout: 30_000 });
}

describe('weft bench --peers without the peer packages', () => {
  test('one line naming what to install, exit 1, before any mode starts', async () => {
    const [one, two, bullmq] = await Promise.all([
      // Default sizes: had it started, it would run for minutes and print its progress.
      weft(['bench', 'overhead', '--peers'], ['piscina']),
      weft(['bench', 'grain', '--peers'], ['tinypool', 'workerpool']),
      weft(['bench', 'cluster', '--broker', 'redis', '--peers'], ['bullmq']),
    ]);
    assert.equal(one.status, 1, one.stderr);
    assert.equal(one.stdout, '');
    assert.equal(one.stderr, 'weft: the peer rows (--peers) need piscina, which is not installed here: npm install piscina (or run without --peers)\n');
    assert.equal(two.status, 1, two.stderr);
    assert.equal(two.stderr, 'weft: the peer rows (--peers) need tinypool and workerpool, which are not installed here: npm install tinypool workerpool (or run without --peers)\n');
    assert.equal(bullmq.status, 1, bullmq.stderr);
    assert.equal(bullmq.stderr, 'weft: the peer rows (--peers) need bullmq, which is not installed here: npm install bullmq (or run without --peers)\n');
  });

  test('the peers load only when asked for: the same run without --peers does not need them', async () => {
    const run = await weft(['bench', 'overhead', '--tasks', '200', '--awaited', '20', '--repeats', '1', '--warmup', '0', '--executors', 'threads', '--quiet'], ['piscina', 'tinypool', 'workerpool', 'bullmq']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^threads\s+[\d,]+/m);
  });
});
