// `weft bench` reads its command line strictly (issue 14: `weft bench pi --worker 4` once ran
// with 2 workers): an unknown flag, a missing or bad value, an unknown mode or an `--html`
// without a file stops at once, exit 2, one line and the usage, before any mode starts. Each case
// is run with the default sizes (minutes of work) and --out: a run that started would print its
// progress line, take far longer than the 20 s limit, and write the file.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const LIMIT_MS = 20_000;

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

async function weft(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: LIMIT_MS });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk; });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk; });
  const [status, signal] = await once(child, 'close') as [number | null, NodeJS.Signals | null];
  return { status, signal, stdout, stderr };
}

/** Exit 2 within the limit, nothing on stdout, `weft bench: <reason>`, a blank line, the usage; no mode started. */
async function refused(args: string[], reason: RegExp, usage: RegExp = /^usage: weft bench /): Promise<void> {
  const out = join(mkdtempSync(join(tmpdir(), 'weft-bench-strict-')), 'figures.json');
  // --out right after the mode, so that it never becomes the value of a flag under test.
  const run = await weft(args.includes('--out') ? args : [...args.slice(0, 2), '--out', out, ...args.slice(2)]);
  const what = `weft ${args.join(' ')}`;
  assert.equal(run.signal, null, `${what} was still running after ${LIMIT_MS / 1000} s: it started the benchmark`);
  assert.equal(run.status, 2, `${what} exited ${run.status}:\n${run.stdout}${run.stderr}`);
  assert.equal(run.stdout, '');
  const [first, blank, usageLine] = run.stderr.split('\n');
  assert.match(first!, /^weft bench: /);
  assert.match(first!, reason);
  assert.equal(blank, '');
  assert.match(usageLine!, usage);
  assert.doesNotMatch(run.stderr, /: started$|^mode \d+\/\d+: /m, `${what} started a mode`);
  assert.equal(existsSync(out), false, `${what} wrote ${out}`);
}

type Case = [args: string[], reason: RegExp, usage?: RegExp];

describe('weft bench: a bad command line fails before any work', () => {
  test('unknown flags, missing and bad values, unknown modes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-bench-strict-'));
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, '');
    const cases: Case[] = [
      // The flag that once ran silently with the default, and a typo of a value flag.
      [['bench', 'pi', '--worker', '4'], /Unknown option '--worker' \(did you mean --workers\?\)$/, /^usage: weft bench pi \[options\]$/],
      [['bench', 'cluster', '--brokers', 'redis'], /Unknown option '--brokers' \(did you mean --broker\?\)$/, /^usage: weft bench cluster /],
      [['bench', 'wordcount', '--peers'], /Unknown option '--peers'/],
      [['bench', 'pi', '--tasks'], /'--tasks <value>' argument missing/],
      [['bench', 'pi', '--tasks', 'many'], /--tasks expects a positive integer, got "many"$/],
      [['bench', 'pi', '--repeats', '0'], /--repeats expects a positive integer, got "0"$/],
      [['bench', 'wordcount', '--megabytes', 'lots'], /--megabytes expects a positive number, got "lots"$/],
      [['bench', 'pi', '--executors', 'threads,warp'], /unknown executor "warp"; known: inline, green, threads/],
      [['bench', 'broker', '--brokers', 'redis,kafkaa'], /--brokers: unknown kafkaa; known: memory, redis/],
      [['bench', 'cluster', '--broker-workers', '0'], /--broker-workers 0 measures workers you started: name their queue with --queue NAME$/],
      [['bench', 'pi', '--json=yes'], /'--json' does not take an argument/],
      [['bench', 'pi', 'extra'], /unexpected argument 'extra'/],
      [['bench', 'nope'], /^weft bench: unknown mode "nope"$/, /^usage: weft bench MODE \[options\]$/],
      // `all` takes the common flags and those every mode shares.
      [['bench', 'all', '--tasks', '5'], /Unknown option '--tasks'/, /^usage: weft bench all /],
      [['bench', 'all', '--repeats', 'x'], /--repeats expects a positive integer, got "x"$/, /^usage: weft bench all /],
      // --html and --out are checked before the run, not after it.
      [['bench', 'pi', '--html'], /'--html <value>' argument missing/],
      [['bench', 'pi', '--html', '--json'], /'--html' argument is ambiguous/],
      [['bench', 'pi', '--html', ''], /--html expects a file name$/],
      [['bench', 'pi', '--html', join(file, 'report.html')], /--html: no such directory /],
      [['bench', 'pi', '--out', dir], /--out: .* is a directory; give a file name$/],
    ];
    // A few at a time: each is a Node process, and the machine has two cores for everything.
    for (let i = 0; i < cases.length; i += 5) await Promise.all(cases.slice(i, i + 5).map((c) => refused(...c)));
  });

  test('--help answers without running: all modes, one mode, all', async () => {
    const [all, pi, every] = await Promise.all([weft(['bench', '--help']), weft(['bench', 'pi', '--help']), weft(['bench', 'all', '-h'])]);
    for (const run of [all, pi, every]) {
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stderr, '');
    }
    for (const mode of ['pi', 'green', 'overhead', 'grain', 'rpc', 'broker', 'cluster', 'sync', 'wordcount', 'all']) {
      assert.match(all.stdout, new RegExp(`^  ${mode} `, 'm'), `bench --help lists ${mode}`);
    }
    assert.match(pi.stdout, /^usage: weft bench pi \[options\]\n/);
    assert.match(pi.stdout, /^ {2}--workers N /m);
    assert.match(pi.stdout, /^ {2}--quiet /m);
    assert.match(every.stdout, /^usage: weft bench all \[options\]\n/);
    assert.match(every.stdout, /takes --repeats/);
  });
});
