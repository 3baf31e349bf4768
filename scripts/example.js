#!/usr/bin/env node
// `npm run example -- NAME [args]`: runs examples/NAME.ts. Examples import 'weft' itself (this
// package's dist/), so dist/ is built first when it is missing or older than src/; then only the
// examples are compiled (tsconfig.examples.json, incremental: a second run compiles nothing),
// to build/examples/NAME.js, which runs. Without a NAME it compiles them and lists them.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

// Modules the examples import (tasks, served objects): compiled, but not programs to run.
const isModule = (name) => /-tasks$|-objects$/.test(name);
const [name, ...args] = process.argv.slice(2);
const available = readdirSync('examples').filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).filter((n) => !isModule(n)).sort();
if (name !== undefined && !available.includes(name)) {
  console.error(`npm run example: no example named ${JSON.stringify(name)}; one of: ${available.join(', ')}`);
  process.exit(2);
}

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function run(script, argv) {
  const result = spawnSync(process.execPath, [script, ...argv], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (!existsSync('dist/index.js') || newest('src') > statSync('dist/index.js').mtimeMs) {
  console.error('npm run example: building dist/ first (src/ changed or was never built)');
  run('scripts/build.js', []);
}
run('node_modules/typescript/bin/tsc', ['-p', 'tsconfig.examples.json']);
if (name === undefined) {
  console.log(`compiled to build/examples/; run one with npm run example -- NAME [args], NAME one of:\n  ${available.join(', ')}`);
  process.exit(0);
}
// scripts/example-errors.js turns a connection, login or missing-package failure into one line.
const preload = new URL('./example-errors.js', import.meta.url).href;
const result = spawnSync(process.execPath, ['--import', preload, `build/examples/${name}.js`, ...args], { stdio: 'inherit', env: { ...process.env, WEFT_EXAMPLE: `npm run example -- ${name}` } });
process.exit(result.status ?? 1);
