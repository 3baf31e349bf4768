#!/usr/bin/env node
// Runs every compiled test file (build/test/**/*.test.js) with Node's own test runner;
// `node scripts/run-tests.js FILTER...` runs only the files whose path contains a FILTER.
// Task modules used by the tests are compiled too, so worker threads, child processes and
// remote workers import plain JavaScript: no loader has to reach them.
import { readdirSync, readFileSync, statSync } from 'node:fs';
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
// --test-force-exit ends a file's process once its tests are done even if a handle is left (on
// Node 22+ a timed-out test leaves its file running), but it ends it with process.exit(), which
// skips Node's cleanup hooks: zeromq's I/O threads are then still closing sockets while the
// process exits, and libzmq can abort (seen: "Assertion failed: _state == term_ack_sent ...
// pipe.cpp:355", about 1 run in 60). Files that open ZeroMQ sockets in their own process
// therefore exit the normal way, in a second run with a deadline of its own.
const usesZeromq = (file) => /zeromq|zmq\+tcp/.test(readFileSync(file, 'utf8'));
const zmqFiles = files.filter(usesZeromq);
const otherFiles = files.filter((f) => !usesZeromq(f));
const runTests = (group, extra, options = {}) =>
  spawnSync(process.execPath, ['--test', ...reporters, `--test-timeout=${TEST_TIMEOUT_MS}`, ...extra, `--test-concurrency=${concurrency}`, ...group], { stdio: 'inherit', ...options });
let status = 0;
if (otherFiles.length > 0) status = runTests(otherFiles, ['--test-force-exit']).status ?? 1;
if (zmqFiles.length > 0) {
  const deadline = TEST_TIMEOUT_MS * 2;
  const zmq = runTests(zmqFiles, [], { timeout: deadline, killSignal: 'SIGKILL' });
  if (zmq.error?.code === 'ETIMEDOUT') console.error(`the ZeroMQ test files (${zmqFiles.join(', ')}) were still running after ${deadline / 1000} s and were killed: a test above timed out and left its file's process alive`);
  status ||= zmq.status ?? 1;
}
process.exit(status);
