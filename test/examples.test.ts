import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import bagTasks, { sampleText } from '../examples/bag-tasks.js';

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

test('the Bag word count example counts as a plain loop here does, on threads and on the cluster', () => {
  const counts = new Map<string, number>();
  for (const line of sampleText().split('\n')) for (const word of bagTasks.words(line)) counts.set(word, (counts.get(word) ?? 0) + 1);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const [top, topCount] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
  for (const executor of ['threads', 'cluster']) {
    const out = runExample('bag-wordcount', executor);
    assert.match(out, /stage 1: 8 partitions of an array of \d+ items; 8 tasks/, executor);
    assert.match(out, new RegExp(`^${total} words, ${counts.size} distinct, in [\\d.]+ s \\(${executor}\\)$`, 'm'), executor);
    assert.match(out, new RegExp(`^ +${topCount}  ${top}$`, 'm'), executor);
    assert.match(out, /matches the sequential count: true/, executor);
  }
});

test('the Bag pi example estimates pi with the same hits as a sequential run, on processes', () => {
  let hits = 0;
  for (let seed = 0; seed < 3000; seed++) hits += bagTasks.hits(seed, 4000);
  const out = runExample('bag-pi', 'processes');
  assert.match(out, new RegExp(`^pi = ${(4 * hits) / 12e6} \\(processes, `, 'm'));
  assert.match(out, new RegExp(`matches the sequential run: true \\(${hits} of 12000000 points inside\\)`));
  assert.ok(Math.abs((4 * hits) / 12e6 - Math.PI) < 0.01);
});
