#!/usr/bin/env node
// Runs every compiled test file (build/test/**/*.test.js) with Node's own test runner;
// `node scripts/run-tests.js FILTER...` runs only the files whose path contains a FILTER.
// Task modules used by the tests are compiled too, so worker threads, child processes and
// remote workers import plain JavaScript: no loader has to reach them.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = find('build/test').filter((f) => filter.length === 0 || filter.some((p) => f.includes(p))).sort();
if (files.length === 0) {
  console.error('no test files found under build/test');
  process.exit(1);
}
console.log(`node ${process.version}: ${files.length} test files`);
// A test that hangs fails after this long instead of stalling the whole run (and CI) forever.
const TEST_TIMEOUT_MS = Number(process.env.WEFT_TEST_TIMEOUT_MS ?? 120_000);
// Test files run this many at a time. Most of a file's time is spent waiting on servers, child
// processes and timers, not computing, so a few at once on 2 cores finish much sooner than one
// after another; every file uses its own queues, ports and temporary directories.
// WEFT_TEST_CONCURRENCY overrides it (1: one file at a time, to chase a flaky test).
const concurrency = Number(process.env.WEFT_TEST_CONCURRENCY ?? 3);
// Two reporters: spec (each test as it ends) on stdout, and watch-reporter.js on stderr, which
// names a test still running after WEFT_TEST_SLOW_MS (30 s) while it runs, and a test that
// timed out with how long it ran.
const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${new URL('./watch-reporter.js', import.meta.url).href}`, '--test-reporter-destination=stderr'];
const result = spawnSync(process.execPath, ['--test', ...reporters, `--test-timeout=${TEST_TIMEOUT_MS}`, '--test-force-exit', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
