import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('the producer/consumer example: every number answered once, on threads', () => {
  const path = fileURLToPath(new URL('../../examples/producer-consumer.js', import.meta.url));
  const run = spawnSync(process.execPath, [path, 'threads'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /produced 100, consumed \d+ \+ \d+ = 100 \(threads\)/);
  assert.match(run.stdout, /distinct answers 100, sum of squares 338350/);
});
