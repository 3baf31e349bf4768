import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function weft(...args: string[]) {
  const run = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('weft CLI', () => {
  test('bench pi --json: every executor row, a pi estimate near pi, speedups against the plain loop', () => {
    const run = weft('bench', 'pi', '--tasks', '40', '--samples', '2000', '--repeats', '2', '--warmup', '0', '--json');
    assert.equal(run.code, 0, run.stderr);
    const data = JSON.parse(run.stdout) as { rows: { executor: string; pi: number; speedup: number; seconds: number }[] };
    assert.deepEqual(data.rows.map((r) => r.executor), ['plain loop', 'static split', 'inline', 'green', 'threads', 'threads-cold', 'processes', 'collection (threads)']);
    for (const row of data.rows) {
      assert.ok(Math.abs(row.pi - Math.PI) < 0.05, `${row.executor} estimated ${row.pi}`);
      assert.ok(row.seconds > 0);
    }
    assert.equal(data.rows.find((r) => r.executor === 'plain loop')!.speedup, 1);
    const inline = data.rows.find((r) => r.executor === 'inline')!;
    assert.equal(inline.speedup, data.rows[0]!.seconds / inline.seconds);
  });

  test('bench pi prints a table with the columns the issue asks for', () => {
    const run = weft('bench', 'pi', '--tasks', '10', '--samples', '100', '--repeats', '1', '--warmup', '0');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /executor\s+workers\s+seconds\s+spread\s+samples\/s\s+speedup\s+efficiency\s+pi/);
    assert.match(run.stdout, /inline \/ plain loop: \d+\.\d+x/);
    assert.match(run.stdout, /^static split\s+2\s/m);
    assert.match(run.stdout, /threads \/ static split: \d+\.\d+x/);
    assert.match(run.stdout, /^collection \(threads\)\s+2\s/m);
    assert.match(run.stdout, /collection \(threads\): \d+\.\d+x the time of threads's map \+ merge, \d+\.\d+x the plain loop \(goal: within 1\.10x/);
  });

  test('bench overhead --peers: weft pools, the floor and the three peers, with ratios', () => {
    const run = weft('bench', 'overhead', '--tasks', '300', '--awaited', '50', '--repeats', '1', '--warmup', '0', '--peers');
    assert.equal(run.code, 0, run.stderr);
    for (const row of ['bare Worker echo', 'threads', 'processes', 'piscina', 'tinypool', 'workerpool']) assert.match(run.stdout, new RegExp(`^${row}`, 'm'));
    assert.match(run.stdout, /threads \/ piscina: \d+\.\d+x tasks\/s/);
    assert.match(run.stdout, /rows taken in rounds, the first row rotating \(bursts: 1 round; awaited: 100 calls a row a round\)/);
  });

  test('bench grain runs both grains, inline included, against the plain loop', () => {
    const run = weft('bench', 'grain', '--executors', 'threads', '--repeats', '1', '--warmup', '0', '--json');
    assert.equal(run.code, 0, run.stderr);
    const data = JSON.parse(run.stdout) as { runs: { options: { tasks: number }; rows: { executor: string; pi: number }[] }[] };
    assert.deepEqual(data.runs.map((r) => r.options.tasks), [3000, 30_000]);
    for (const r of data.runs) {
      assert.deepEqual(r.rows.map((row) => row.executor), ['plain loop', 'static split', 'inline', 'threads']);
      assert.ok(r.rows.every((row) => Math.abs(row.pi - Math.PI) < 0.01));
    }
  });

  test('--out and --html write the figures and a report with a chart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
    const run = weft('bench', 'pi', '--tasks', '10', '--samples', '100', '--repeats', '1', '--warmup', '0',
      '--executors', 'inline,green', '--out', join(dir, 'pi.json'), '--html', join(dir, 'pi.html'));
    assert.equal(run.code, 0, run.stderr);
    const data = JSON.parse(readFileSync(join(dir, 'pi.json'), 'utf8')) as { rows: unknown[] };
    assert.equal(data.rows.length, 3);
    const html = readFileSync(join(dir, 'pi.html'), 'utf8');
    assert.match(html, /<figcaption>seconds per run<\/figcaption>/);
    assert.equal((html.match(/<g class="bar/g) ?? []).length, 6, 'a bar per row in each of two charts (seconds, speedup)');
    assert.match(html, /<td>inline<\/td>/);
  });

  test('bench green runs both modes in fresh processes and reports ratios', () => {
    const run = weft('bench', 'green', '--tasks', '2000', '--delay', '1', '--repeats', '1', '--json');
    assert.equal(run.code, 0, run.stderr);
    const data = JSON.parse(run.stdout) as { ratios: { mode: string; time: number; cpu: number; memory: number }[]; runs: Record<string, { completed: number; cpuSeconds: number }[]> };
    for (const mode of ['bare', 'green', 'green-sync']) assert.equal(data.runs[mode]![0]!.completed, 2000, mode);
    for (const mode of ['bare', 'green', 'green-sync']) assert.ok(data.runs[mode]![0]!.cpuSeconds > 0, `${mode} reports the CPU time of its run`);
    assert.deepEqual(data.ratios.map((r) => r.mode), ['bare', 'green', 'green-sync']);
    for (const r of data.ratios) assert.ok(r.time > 0 && r.cpu > 0 && r.memory > 0);
  });

  test('bench sync --json: the Queue, the Pipe and a MessageChannel, every item checked on arrival', () => {
    const run = weft('bench', 'sync', '--items', '2000', '--trips', '100', '--repeats', '2', '--json');
    assert.equal(run.code, 0, run.stderr);
    const data = JSON.parse(run.stdout) as { samples: Record<string, number[]> } & Record<string, number>;
    assert.deepEqual(Object.keys(data.samples).sort(), ['many-n', 'many-o', 'pipe', 'port', 'port-echo', 'port-n', 'port-t', 'queue', 'queue-n', 'queue-t']);
    for (const [mode, samples] of Object.entries(data.samples)) assert.ok(samples.length === 2 && samples.every((s) => s > 0), `${mode}: ${samples}`);
    for (const figure of ['queueRate', 'portRate', 'queueNumbers', 'portNumbers', 'pipeUs', 'portUs']) {
      assert.ok(Number.isFinite(data[figure]) && data[figure]! > 0, `${figure}: ${data[figure]}`);
    }
  });

  test('bad input: unknown mode, unknown executor, bad number (usage errors, exit 2; bench-strict.test.ts has the rest)', () => {
    const unknownMode = weft('bench', 'nope');
    assert.equal(unknownMode.code, 2);
    assert.match(unknownMode.stderr, /unknown mode "nope"/);
    const unknownExecutor = weft('bench', 'pi', '--executors', 'warp', '--tasks', '1', '--samples', '1');
    assert.equal(unknownExecutor.code, 2);
    assert.match(unknownExecutor.stderr, /unknown executor "warp"; known: inline, green/);
    const badNumber = weft('bench', 'pi', '--tasks', 'many');
    assert.equal(badNumber.code, 2);
    assert.match(badNumber.stderr, /--tasks expects a positive integer, got "many"/);
  });

  test('--help lists the commands; bench --help lists the bench modes', () => {
    const run = weft('--help');
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^ {2}bench /m);
    const bench = weft('bench', '--help');
    assert.equal(bench.code, 0);
    assert.match(bench.stdout, /pi\s+the articles' Monte Carlo pi/);
  });
});
