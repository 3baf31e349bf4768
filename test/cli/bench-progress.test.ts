// What a person sees while `weft bench` runs and when it ends: a live line on a terminal, a
// line per finished run off one (--quiet: nothing), an ok / MISSED verdict per goal, and a
// warning on top of a run too noisy to trust, with the load average, in the table and in --json.
import { runWeft, type WeftRun } from './run-weft.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatReport, type BenchReport, type Goal } from '../../src/bench/harness.js';
import { Progress, progressStyle, type ProgressOutput } from '../../src/bench/progress.js';
import { judgeNoise, NOISE_THRESHOLD, verdictLine } from '../../src/bench/verdict.js';


function weft(args: string[]): Promise<WeftRun> {
  return runWeft(args, { timeout: 60_000 });
}

/** A terminal (or a log) that keeps what was written. */
function collector(columns?: number): ProgressOutput & { text: string } {
  return { text: '', columns, write(chunk: string) { this.text += chunk; } };
}

const ERASE = '\r\x1b[2K';

describe('progress', () => {
  test('on a terminal: one line redrawn in place with the row, the run, a bar and an ETA, erased before the table', () => {
    const out = collector(200);
    const progress = new Progress('live', out);
    progress.mode('pi', 3, 10);
    const task = progress.task(4);
    task.running('threads', 'run 1/4');
    assert.ok(out.text.endsWith(`${ERASE}mode 3/10: pi  threads  run 1/4  ${'░'.repeat(12)}`), JSON.stringify(out.text));
    task.finished('threads', 'run 1/4', '0.4 s');
    task.running('threads', 'run 2/4');
    assert.match(out.text.slice(out.text.lastIndexOf(ERASE)), /^\r\x1b\[2Kmode 3\/10: pi {2}threads {2}run 2\/4 {2}█{3}░{9} {2}ETA \d+ s$/);
    assert.doesNotMatch(out.text, /\n/, 'a live line never scrolls');
    progress.clear();
    assert.ok(out.text.endsWith(ERASE));
  });

  test('a log line goes above the live line, which is drawn again under it; off a terminal and quiet it is printed as is', () => {
    const out = collector(200);
    const progress = new Progress('live', out);
    progress.mode('cluster');
    progress.task(3).running('cluster (redis)', 'run 1/3');
    const line = out.text.slice(out.text.lastIndexOf(ERASE) + ERASE.length);
    const before = out.text.length;
    progress.above('2026-12-05T11:59:13.875Z WARN  worker lost');
    assert.equal(out.text.slice(before), `${ERASE}2026-12-05T11:59:13.875Z WARN  worker lost\n${ERASE}${line}`);
    for (const style of ['lines', 'quiet'] as const) {
      const plain = collector();
      new Progress(style, plain).above('WARN x');
      assert.equal(plain.text, 'WARN x\n', style);
    }
  });

  test('on a narrow terminal the line is cut to its width (a wrapped line could not be redrawn)', () => {
    const out = collector(30);
    const progress = new Progress('live', out);
    progress.mode('wordcount');
    progress.task(2).running('collection reduceByKey (threads)', 'run 1/2');
    const line = out.text.slice(out.text.lastIndexOf(ERASE) + ERASE.length);
    assert.equal(line.length, 29);
    assert.ok(line.endsWith('…'));
  });

  test('off a terminal: a line per mode started and per finished run, with the ETA until the last', () => {
    const out = collector();
    const progress = new Progress('lines', out);
    progress.mode('pi', 3, 10);
    const task = progress.task(2);
    task.running('threads', 'run 1/2');
    assert.equal(out.text, 'mode 3/10: pi\n', 'nothing while a run runs');
    task.finished('threads', 'run 1/2', '0.412 s');
    task.running('threads', 'run 2/2');
    task.finished('threads', 'run 2/2', '0.398 s');
    progress.note('redis skipped: ECONNREFUSED');
    const lines = out.text.trimEnd().split('\n');
    assert.equal(lines.length, 4, out.text);
    assert.match(lines[1]!, /^pi: threads run 1\/2: 0\.412 s \(ETA \d+ s\)$/);
    assert.equal(lines[2], 'pi: threads run 2/2: 0.398 s');
    assert.equal(lines[3], 'pi: redis skipped: ECONNREFUSED');
    const single = collector();
    new Progress('lines', single).mode('sync');
    assert.equal(single.text, 'sync: started\n');
  });

  test('quiet writes nothing; the style follows --quiet and the terminal', () => {
    const out = collector();
    const progress = new Progress('quiet', out);
    progress.mode('pi');
    const task = progress.task(1);
    task.running('inline', 'run 1/1');
    task.finished('inline', 'run 1/1', '1 s');
    progress.note('note');
    progress.clear();
    assert.equal(out.text, '');
    assert.equal(progressStyle(true, { isTTY: true }), 'quiet');
    assert.equal(progressStyle(false, { isTTY: true }), 'live');
    assert.equal(progressStyle(false, {}), 'lines');
  });
});

describe('verdicts and noise', () => {
  const report = (spread: number | undefined, goals: Goal[]): BenchReport => ({
    title: 'weft bench test', header: ['row', 'seconds'], rows: [['a', 1]], notes: ['a note'], goals, spread, data: {},
  });

  test('a verdict per goal: ok or MISSED, green or red only when asked', () => {
    assert.equal(verdictLine({ text: 'threads: 1.84x sequential (goal: >= 1.8x)', met: true }), 'ok      threads: 1.84x sequential (goal: >= 1.8x)');
    assert.equal(verdictLine({ text: 'threads: 0.71x sequential (goal: >= 1.8x)', met: false }), 'MISSED  threads: 0.71x sequential (goal: >= 1.8x)');
    assert.equal(verdictLine({ text: 'x', met: true }, true), '\x1b[32mok\x1b[0m      x');
    assert.equal(verdictLine({ text: 'x', met: false }, true), '\x1b[31mMISSED\x1b[0m  x');
  });

  test(`a run whose rounds spread by more than ${NOISE_THRESHOLD * 100}% says so above its title, with the load average`, () => {
    const goals = [{ text: 'one', met: true }, { text: 'two', met: false }];
    const noisy = judgeNoise(1.23, 6.5, 10.25);
    assert.equal(noisy.noisy, true);
    assert.deepEqual(noisy.loadAverage, { before: 6.5, after: 10.25 });
    const text = formatReport(report(1.23, goals), { noise: noisy });
    const lines = text.split('\n').filter(Boolean);
    assert.match(lines[0]!, /^NOISY RUN: rounds of one row disagreed by up to 123% \(trusted up to 25%\).*load average 6\.50 before, 10\.25 after, on \d+ cores/);
    assert.equal(lines[1], 'weft bench test');
    assert.deepEqual(lines.filter((l) => /^(ok|MISSED) /.test(l)), ['ok      one', 'MISSED  two']);
    assert.match(lines.at(-1)!, /^largest spread 123% \(noisy above 25%\); load average/);

    const calm = judgeNoise(0.12, 1, 1);
    assert.equal(calm.noisy, false);
    assert.doesNotMatch(formatReport(report(0.12, goals), { noise: calm }), /NOISY/);
    assert.equal(judgeNoise(NOISE_THRESHOLD, 1, 1).noisy, false, 'the threshold itself is trusted');
    const one = judgeNoise(undefined, 1, 1);
    assert.deepEqual([one.noisy, one.spread], [false, null]);
    assert.match(formatReport(report(undefined, []), { noise: one }), /one round each, no spread to judge/);
  });
});

describe('weft bench, off a terminal', () => {
  test('a line per finished run on stderr, a verdict line per goal, the noise fields in --out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-bench-progress-'));
    const out = join(dir, 'pi.json');
    const run = await weft(['bench', 'pi', '--tasks', '20', '--samples', '500', '--repeats', '2', '--executors', 'inline,threads', '--out', out]);
    assert.equal(run.status, 0, run.stderr);
    const rows = ['plain loop', 'static split', 'inline', 'threads', 'collection (threads)'];
    const progress = run.stderr.split('\n').filter((line) => line.startsWith('pi: '));
    assert.equal(progress[0], 'pi: started');
    for (const row of rows) {
      assert.ok(progress.includes(`pi: ${row} warm-up`) || progress.some((l) => l.startsWith(`pi: ${row} warm-up (ETA `)), `${row}'s warm-up line in:\n${run.stderr}`);
      for (const step of ['run 1/2', 'run 2/2']) {
        assert.ok(progress.some((l) => new RegExp(`^pi: ${row.replace(/[()]/g, '\\$&')} ${step}: \\d+\\.\\d{3} s( \\(ETA \\d+ s\\))?$`).test(l)), `${row} ${step} in:\n${run.stderr}`);
      }
    }
    assert.equal(progress.length, 1 + rows.length * 3);
    // The first row rotates each round (a warm-up round, then two): the last round runs
    // inline, threads, collection (threads), plain loop, static split.
    assert.match(progress.at(-1)!, /^pi: static split run 2\/2: [\d.]+ s$/, 'the last line has no ETA');

    const data = JSON.parse(readFileSync(out, 'utf8')) as { goals: Goal[]; noisy: boolean; spread: number; noiseThreshold: number; loadAverage: { before: number; after: number }; cores: number; elapsedSeconds: number };
    // inline / plain loop, threads' speedup, the collection row against threads' map + merge.
    assert.equal(data.goals.length, 3);
    const verdicts = run.stdout.split('\n').filter((line) => /^(ok {6}|MISSED {2})/.test(line));
    assert.deepEqual(verdicts, data.goals.map((g) => `${g.met ? 'ok    ' : 'MISSED'}  ${g.text}`));
    assert.match(verdicts.join('\n'), /inline \/ plain loop: [\d.]+x \(goal: at most 1\.10x/);
    assert.match(verdicts.join('\n'), /threads: [\d.]+x sequential \(goal: >= 1\.6x\)/);

    assert.equal(typeof data.spread, 'number');
    assert.equal(data.noiseThreshold, NOISE_THRESHOLD);
    assert.equal(data.noisy, data.spread > NOISE_THRESHOLD);
    assert.ok(data.loadAverage.before >= 0 && data.loadAverage.after >= 0, JSON.stringify(data.loadAverage));
    assert.ok(data.cores >= 1);
    const first = run.stdout.split('\n').find(Boolean)!;
    if (data.noisy) assert.match(first, /^NOISY RUN: rounds of one row disagreed by up to \d+%/);
    else assert.equal(first, 'weft bench pi: 20 tasks x 500 samples (0.0 M samples), 2 workers');
    assert.match(run.stdout, /^largest spread \d+% \(noisy above 25%\); load average [\d.]+ before, [\d.]+ after, on \d+ cores; ran \d+ s$/m);
    assert.ok(data.elapsedSeconds >= 0 && data.elapsedSeconds < 60, `elapsedSeconds ${data.elapsedSeconds}`);
  });

  test('--quiet: nothing on stderr; --json: the figures, the verdicts and the noise alone on stdout', async () => {
    const run = await weft(['bench', 'pi', '--tasks', '10', '--samples', '100', '--repeats', '1', '--warmup', '0', '--executors', 'inline', '--quiet', '--json']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    const data = JSON.parse(run.stdout) as { rows: unknown[]; goals: Goal[]; noisy: boolean; spread: number | null };
    assert.equal(data.rows.length, 2);
    assert.equal(data.goals.length, 1);
    assert.equal(typeof data.goals[0]!.met, 'boolean');
    // One round: no spread to judge, so not flagged.
    assert.deepEqual([data.noisy, data.spread], [false, null]);
  });
});
