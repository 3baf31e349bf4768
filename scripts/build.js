#!/usr/bin/env node
// Builds dist/ with tsc and marks the `weft` command executable (tsc does not), so that
// `npx weft` works straight after `npm ci` in a fresh clone.
import { chmodSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
chmodSync('dist/cli/main.js', 0o755);
