// Off by default and free when off: work on pools and over RPC loads neither @opentelemetry/api
// nor prom-client, and the hook slot stays empty.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FIXTURES } from '../cluster/helpers.js';

test('with observability off, no optional package is loaded and no hook is set', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [join(FIXTURES, 'observe-off-child.js')], { timeout: 30_000 });
  assert.deepEqual(JSON.parse(stdout), { loaded: [], hooksEmpty: true });
});
