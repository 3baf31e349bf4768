import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serialize } from 'node:v8';
import { advise, classify, type AdviseFigures, type AdviseRow } from '../../src/bench/advise-verdict.js';
import { tempDir } from '../helpers.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tasks = fileURLToPath(new URL('../fixtures/advise-tasks.js', import.meta.url));
const noTasks = fileURLToPath(new URL('../fixtures/advise-no-tasks.js', import.meta.url));
/** Small samples: each executor stops starting calls after 0.6 s (three rounds of 0.2 s). */
const SMALL = ['--items', '300', '--seconds', '0.6', '--workers', '2'];

interface AdviseJson {
  kind: string;
  onCpuShare: number;
  bytesIn: number;
  bytesOut: number;
  advice: { executor: string; settings: string; text: string };
  rows: { executor: string; calls: number; callsPerSecond: number; speedup: number; cpuPerCallMs: number; error: string | null }[];
}

function checkRows(data: AdviseJson): void {
  assert.deepEqual(data.rows.map((r) => r.executor), ['inline', 'green', 'threads', 'processes']);
  for (const row of data.rows) {
    assert.equal(row.error, null, `${row.executor}: ${row.error}`);
    assert.ok(row.calls > 0 && row.callsPerSecond > 0 && row.cpuPerCallMs > 0, `${row.executor}: ${JSON.stringify(row)}`);
  }
  assert.equal(data.rows[0]!.speedup, 1);
}

describe('weft bench advise on sample tasks', () => {
  test('a CPU-bound task is advised to a pool (threads or processes), with the figures in --json', () => {
    const run = spawnSync(process.execPath, [cli, 'bench', 'advise', '--task', `${tasks}#spin`, '--args', '[200000]', ...SMALL, '--json'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const data = JSON.parse(run.stdout) as AdviseJson;
    checkRows(data);
    assert.equal(data.kind, 'cpu-bound', `on-CPU share ${data.onCpuShare}`);
    assert.ok(['threads', 'processes'].includes(data.advice.executor), data.advice.text);
    assert.match(data.advice.text, /^CPU-bound, [\d.]+ (ms|µs) per call .*(ThreadPool|ProcessPool)\(\{ workers: 2 \}\), map with the default chunking: [\d.]+x inline/);
    assert.equal(data.bytesIn, serialize([200000]).length);
    assert.ok(data.bytesOut > 0);
  });

  test('an IO-bound task (it awaits a timer) is advised to green; the table and --out carry the figures', () => {
    const dir = tempDir('weft-advise-');
    try {
      const out = join(dir, 'advise.json');
      const run = spawnSync(process.execPath, [cli, 'bench', 'advise', '--task', `${tasks}#wait`, '--args', '[20]', ...SMALL, '--out', out], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /executor\s+settings\s+in flight\s+calls\s+calls\/s\s+vs inline\s+CPU\/call\s+bytes in\s+bytes out/);
      assert.match(run.stdout, /^green\s+GreenPool\(\{ size: 500 \}\)/m);
      assert.match(run.stdout, /^advice: IO-bound: each call takes [\d.]+ ms .*: GreenPool\(\{ size: 500 \}\) is \d+x inline; threads add nothing/m);
      const data = JSON.parse(readFileSync(out, 'utf8')) as AdviseJson;
      checkRows(data);
      assert.equal(data.kind, 'io-bound', `on-CPU share ${data.onCpuShare}`);
      assert.equal(data.advice.executor, 'green');
      // 20 ms per call one at a time against up to 300 at once: far more than 5x whatever the load.
      assert.ok(data.rows[1]!.speedup > 5, `green ${data.rows[1]!.speedup}x inline`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Runs the CLI without blocking, so that the bad inputs are tried side by side. */
function weft(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const start = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'bench', 'advise', ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, WEFT_BENCH_PROGRESS: '1' } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr, seconds: (Date.now() - start) / 1000 });
    });
  });
}

// --seconds 60: had any executor been timed, the run would outlast the 30 s the test waits (and
// WEFT_BENCH_PROGRESS=1 would have printed a line per round).
const bad: [what: string, args: string[], line: RegExp][] = [
  ['missing --task', ['--args', '[1]'], /^weft bench: --task FILE#NAME is required/],
  ['a file that does not exist', ['--task', 'no-such-dir/tasks.js#spin'], /^weft bench: --task: no such file no-such-dir\/tasks\.js \(resolved to \//],
  ['a module without that export lists what it has', ['--task', `${tasks}#nope`], /^weft bench: --task: .*advise-tasks\.js has no task "nope"; it has spin, wait, blockingWait, boom$/],
  ['a module with several tasks and no #name', ['--task', tasks], /^weft bench: --task: name the task as .*#NAME; .* has spin, wait, blockingWait, boom$/],
  ['a module with no tasks lists its exports', ['--task', `${noTasks}#square`], /^weft bench: --task: .* exports no tasks \(define them with defineTasks.*; its exports: answer, square$/],
  ['--args that is not JSON', ['--task', `${tasks}#spin`, '--args', '[1,'], /^weft bench: --args is not JSON \(.*\): \[1,$/],
  ['--args that is not an array', ['--task', `${tasks}#spin`, '--args', '5'], /^weft bench: --args expects a JSON array of one call's arguments, got 5 \(write \[5\] for a single argument\)$/],
  ['a task that throws on the sample shows its error', ['--task', `${tasks}#boom`, '--args', '["on purpose"]'], /^weft bench: --task .*#boom failed on --args \["on purpose"\]: RangeError: boom: on purpose$/],
  ['a bad --items', ['--task', `${tasks}#spin`, '--items', '0'], /^weft bench: --items expects a positive integer, got "0"$/],
];

describe('weft bench advise: bad input is one line and exit code 2, before any timing', { concurrency: true }, () => {
  for (const [what, args, line] of bad) {
    test(what, async () => {
      const run = await weft([...args, '--seconds', '60']);
      assert.equal(run.code, 2, `exit ${run.code} after ${run.seconds} s\n${run.stderr}`);
      assert.match(run.stderr.split('\n')[0]!, line);
      assert.equal(run.stdout, '');
      assert.doesNotMatch(run.stderr, /advise (inline|green|threads|processes)/, 'no executor was timed');
    });
  }
});

describe('the advice, from figures', () => {
  const row = (executor: AdviseRow['executor'], callsPerSecond: number, cpuPerCall: number, callerCpuPerCall = cpuPerCall): AdviseRow => ({
    executor,
    settings: { inline: 'InlineExecutor()', green: 'GreenPool({ size: 500 })', threads: 'ThreadPool({ workers: 2 })', processes: 'ProcessPool({ workers: 2 })' }[executor],
    calls: 100,
    seconds: 100 / callsPerSecond,
    callsPerSecond,
    cpuPerCall,
    callerCpuPerCall,
  });
  const figures = (onCpuShare: number, rows: AdviseRow[], extra: Partial<AdviseFigures> = {}): AdviseFigures => ({ rows, onCpuShare, bytesIn: 10, bytesOut: 10, cores: 2, workers: 2, loadAverage: 1, ...extra });

  test('the kind of call, from its on-CPU share', () => {
    assert.deepEqual([0.95, 0.6, 0.59, 0.25, 0.24, 0.01].map(classify), ['cpu-bound', 'cpu-bound', 'mixed', 'mixed', 'io-bound', 'io-bound']);
  });

  test('CPU-bound, threads 1.9x inline: ThreadPool, with what processes cost more per call', () => {
    const advice = advise(figures(0.98, [row('inline', 500, 0.002), row('green', 490, 0.002), row('threads', 950, 0.0021, 0.00002), row('processes', 900, 0.0025, 0.00004)]));
    assert.equal(advice.executor, 'threads');
    assert.equal(advice.text, 'CPU-bound, 2.0 ms per call (on a core 98% of the time it could run): ThreadPool({ workers: 2 }), map with the default chunking: 1.9x inline; processes cost 1.2x the CPU per call here (1.8x inline)');
    assert.match(advice.notes.join('\n'), /green ran it at 0\.98x inline: a call that computes holds the event loop/);
  });

  test('CPU-bound on a busy machine: a pool whose dispatch is cheap is still advised, and the note says why it did not win here', () => {
    const advice = advise(figures(0.9, [row('inline', 500, 0.002), row('green', 480, 0.002), row('threads', 480, 0.0022, 0.00003), row('processes', 470, 0.0024, 0.00005)], { loadAverage: 9.5 }));
    assert.equal(advice.executor, 'threads');
    assert.match(advice.notes[0]!, /^threads reached only 0\.96x inline in this sample: the machine is busy \(load average 9\.5 on 2 cores\); .* costs 2% of the call's CPU, so on free cores expect up to ~2x$/);
  });

  test('CPU-bound but tiny: dispatch costs more than the call, so inline', () => {
    const advice = advise(figures(0.97, [row('inline', 100_000, 0.000005), row('green', 90_000, 0.000006), row('threads', 60_000, 0.00003, 0.000012), row('processes', 30_000, 0.00005, 0.00002)]));
    assert.equal(advice.executor, 'inline');
    assert.match(advice.text, /too small to ship one by one, run it inline: threads reached 0\.60x inline, and a ThreadPool spends 12\.0 µs of CPU per call .*, 2\.4x the call itself/);
  });

  test('IO-bound: green, and threads add nothing', () => {
    const advice = advise(figures(0.02, [row('inline', 48, 0.0003), row('green', 11_000, 0.00004), row('threads', 95, 0.0006), row('processes', 90, 0.0009)]));
    assert.equal(advice.executor, 'green');
    assert.equal(advice.text, 'IO-bound: each call takes 20.8 ms and is on a core 2% of it (300 µs): GreenPool({ size: 500 }) is 229x inline; threads add nothing (2.0x inline, 0.01x green)');
  });

  test('IO-bound but blocking its thread (green gains nothing): the faster pool', () => {
    const advice = advise(figures(0.01, [row('inline', 45, 0.0003), row('green', 46, 0.0003), row('threads', 88, 0.0008), row('processes', 80, 0.001)]));
    assert.equal(advice.executor, 'threads');
    assert.match(advice.text, /blocking its thread: ThreadPool\(\{ workers: 2 \}\) is 2\.0x inline; green is only 1\.0x inline/);
  });

  test('mixed: the simplest executor within 10% of the fastest', () => {
    const advice = advise(figures(0.4, [row('inline', 100, 0.004), row('green', 300, 0.004), row('threads', 320, 0.005), row('processes', 200, 0.006)]));
    assert.equal(advice.kind, 'mixed');
    assert.equal(advice.executor, 'green');
  });

  test('a failed executor is named in the notes, and large messages to a pool are too', () => {
    const failed: AdviseRow = { ...row('processes', 0, 0), calls: 0, error: 'Error: cannot import' };
    const advice = advise(figures(0.98, [row('inline', 500, 0.002), row('green', 490, 0.002), row('threads', 950, 0.0021, 0.00002), failed], { bytesIn: 2 * 1024 * 1024, bytesOut: 100 }));
    assert.equal(advice.executor, 'threads');
    assert.ok(advice.notes.includes('processes could not run the task: Error: cannot import'), advice.notes.join('\n'));
    assert.ok(advice.notes.some((n) => n.startsWith('each call copies 2.0 MB of arguments and 100 B of result to and from a worker')), advice.notes.join('\n'));
  });
});
