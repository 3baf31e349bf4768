import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

function runExample(name: string, ...args: string[]) {
  const path = fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url));
  const run = spawnSync(process.execPath, [path, ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

test("the greenlet example prints exactly 12, 56, 34", () => {
  assert.equal(runExample('greenlet'), '12\n56\n34\n');
});

test('the pi example estimates pi on inline and green executors', () => {
  for (const executor of ['inline', 'green']) {
    const match = /pi = ([\d.]+)/.exec(runExample('pi', executor));
    assert.ok(match, 'no pi printed');
    assert.ok(Math.abs(Number(match[1]) - Math.PI) < 0.01, `${executor}: ${match[1]}`);
  }
});

test("the Pool pi example estimates pi on a process pool and a thread pool", () => {
  for (const kind of ['processes', 'threads']) {
    const match = /pi = ([\d.]+)\s+\((\w+), Pool\(2\)\)/.exec(runExample('pool-pi', kind, '2'));
    assert.ok(match, 'no pi printed');
    assert.ok(Math.abs(Number(match[1]) - Math.PI) < 0.01, `${kind}: ${match[1]}`);
    assert.equal(match[2], kind);
  }
});

test('the green fetch example finishes every page', () => {
  const out = runExample('green-fetch');
  assert.match(out, /imap: 20 pages/);
  assert.match(out, /joinAll: 20 of 20 finished/);
});

test('the producer/consumer example loses and duplicates nothing, on threads and on processes', () => {
  for (const mode of ['threads', 'processes']) {
    const out = runExample('producer-consumer', mode);
    assert.match(out, /produced 100, consumed \d+ \+ \d+ = 100/, mode);
    assert.match(out, /distinct answers 100, sum of squares 338350/, mode);
  }
});
