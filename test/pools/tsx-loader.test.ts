// TypeScript task modules under a loader (tsx): the caller's execArgv reaches every worker, so
// workers import the .ts module the caller defined its tasks in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../helpers.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const weft = pathToFileURL(join(repo, 'build/src/index.js')).href;

test('ThreadPool and ProcessPool run tasks from a .ts module when the caller runs under tsx', async () => {
  const dir = tempDir('weft-tsx-');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(dir, 'tasks.ts'), `
import { defineTasks } from '${weft}';
interface Point { x: number; y: number }
export default defineTasks(import.meta.url, {
  norm(p: Point): string { return 'ts:' + Math.hypot(p.x, p.y); },
});
`);
  writeFileSync(join(dir, 'main.ts'), `
import { ThreadPool, ProcessPool } from '${weft}';
import tasks from './tasks.ts';
const out: string[] = [];
for (const pool of [new ThreadPool({ workers: 1 }), new ProcessPool({ workers: 1 })]) {
  out.push(await pool.submit(tasks.norm, { x: 3, y: 4 }) as string);
  await pool.shutdown();
}
console.log(JSON.stringify(out));
`);
  // `node --import tsx main.ts`, and the tsx command, which passes absolute loader URLs.
  const viaImport = await run(process.execPath, ['--import', 'tsx', join(dir, 'main.ts')], { cwd: repo, timeout: 60_000 });
  assert.deepEqual(JSON.parse(viaImport.stdout.trim()), ['ts:5', 'ts:5']);
  const viaCli = await run(join(repo, 'node_modules/.bin/tsx'), [join(dir, 'main.ts')], { cwd: dir, timeout: 60_000 });
  assert.deepEqual(JSON.parse(viaCli.stdout.trim()), ['ts:5', 'ts:5']);
});
