#!/usr/bin/env node
// `npm run example -- NAME [args]`: builds the package and the examples, then runs
// build/examples/NAME.js. Examples import 'weft' itself (the package's own dist/).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const [name, ...args] = process.argv.slice(2);
const available = existsSync('examples') ? readdirSync('examples').filter((f) => f.endsWith('.ts') && !f.includes('tasks')).map((f) => f.slice(0, -3)) : [];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run example -- NAME [args]; NAME is one of: ${available.join(', ')}`);
  process.exit(2);
}
for (const project of ['tsconfig.json', 'tsconfig.test.json']) {
  const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const run = spawnSync(process.execPath, [`build/examples/${name}.js`, ...args], { stdio: 'inherit' });
process.exit(run.status ?? 1);
