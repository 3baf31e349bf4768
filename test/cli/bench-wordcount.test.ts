// `weft bench wordcount` with a tiny corpus, and the corpus and chunking it relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Executor } from '../../src/core/executor.js';
import { InlineExecutor } from '../../src/executors/inline.js';
import { registerBenchExecutor } from '../../src/bench/executors.js';
import { countWords } from '../../src/bench/tasks.js';
import { benchWordcount, contiguousShares, splitLines, wordcountCorpus } from '../../src/bench/wordcount.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Row {
  executor: string;
  seconds: number;
  megabytesPerSecond: number;
  speedup: number;
  words: number;
  cpuSeconds?: number;
  mainCpuSeconds?: number;
}

test('weft bench wordcount --json: plain loop, the static split, each executor and rpc, all with positive figures and the same word total', () => {
  const run = spawnSync(process.execPath, [cli, 'bench', 'wordcount', '--megabytes', '0.2', '--chunks', '8', '--repeats', '1', '--executors', 'inline,threads', '--json'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  const { rows } = JSON.parse(run.stdout) as { rows: Row[] };
  assert.deepEqual(rows.map((r) => r.executor), ['plain loop', 'static split', 'inline', 'threads', 'collection (threads)', 'collection reduceByKey (threads)', 'rpc']);
  for (const row of rows) {
    assert.ok(row.seconds > 0 && row.megabytesPerSecond > 0 && row.speedup > 0, `${row.executor}: ${JSON.stringify(row)}`);
    assert.equal(row.words, rows[0]!.words, `${row.executor} counted every word`);
  }
  assert.equal(rows[0]!.speedup, 1);
  assert.ok(rows[0]!.words > 20_000, `0.2 MB holds tens of thousands of words, got ${rows[0]!.words}`);
  if (process.platform === 'linux') {
    // The plain loop runs on this thread: its own CPU is part of the process's, and the threads
    // row's counting is not on this thread: the process spent CPU beyond this thread's. (Not
    // compared with the plain loop's: on 0.2 MB a loaded machine's dispatch can cost as much.)
    const [plain, threads] = [rows[0]!, rows.find((r) => r.executor === 'threads')!];
    assert.ok(plain.mainCpuSeconds! > 0 && plain.cpuSeconds! >= plain.mainCpuSeconds!, JSON.stringify(plain));
    assert.ok(threads.cpuSeconds! > 0 && threads.mainCpuSeconds! < threads.cpuSeconds!, JSON.stringify(threads));
  }
});

test('weft bench wordcount prints the table and its notes', () => {
  const run = spawnSync(process.execPath, [cli, 'bench', 'wordcount', '--megabytes', '0.1', '--chunks', '4', '--repeats', '1', '--warmup', '0', '--executors', 'inline'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /executor\s+seconds\s+spread\s+MB\/s\s+speedup\s+CPU s\s+main CPU s/);
  assert.match(run.stdout, /^plain loop\s+[\d.]+\s+\d+%\s+[\d.]+\s+1\.00x\s+(-|[\d.]+)\s+(-|[\d.]+)$/m);
  if (process.platform === 'linux') assert.match(run.stdout, /The plain loop used [\d.]+ CPU s, [\d.]+ on its own thread: \d+% of its work/);
  assert.match(run.stdout, /^rpc\s+[\d.]+/m);
  assert.match(run.stdout, /fastest: \S+/);
  assert.match(run.stdout, /across a boundary/);
  assert.doesNotMatch(run.stdout, /^static split/m, 'the static split comes with threads only');
});

test('weft bench wordcount with threads: the static split row and threads / static split in the notes', () => {
  const run = spawnSync(process.execPath, [cli, 'bench', 'wordcount', '--megabytes', '0.1', '--chunks', '5', '--repeats', '1', '--warmup', '0', '--executors', 'threads'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^static split\s+[\d.]+\s+\d+%\s+[\d.]+\s+\d+\.\d\dx\s+(-|[\d.]+)\s+(-|[\d.]+)$/m);
  if (process.platform === 'linux') assert.match(run.stdout, /at most on \d+ free cores.*static split \d+\.\d\dx \(\d+\.\d\dx its CPU\)/);
  assert.match(run.stdout, /threads \/ static split: \d+\.\d\dx its speed .*the split's own \d+\.\d\dx the plain loop/);
});

test('contiguousShares cuts the chunks into contiguous runs, one per worker, none lost', () => {
  const chunks = ['a', 'b', 'c', 'd', 'e'];
  assert.deepEqual(contiguousShares(chunks, 2), [['a', 'b', 'c'], ['d', 'e']]);
  assert.deepEqual(contiguousShares(chunks, 3), [['a', 'b'], ['c'], ['d', 'e']]);
  assert.deepEqual(contiguousShares(['a'], 2), [['a'], []]);
});

test('the corpus is deterministic and its chunks, cut at line ends, count the same as the whole', () => {
  const text = wordcountCorpus(0.05);
  assert.equal(text, wordcountCorpus(0.05));
  assert.ok(text.length >= 50_000);
  const chunks = splitLines(text, 7);
  assert.equal(chunks.length, 7);
  assert.equal(chunks.join(''), text);
  for (const chunk of chunks.slice(0, -1)) assert.ok(chunk.endsWith('\n'));
  const merged = new Map<string, number>();
  for (const chunk of chunks) for (const [word, count] of countWords(chunk)) merged.set(word, (merged.get(word) ?? 0) + count);
  assert.deepEqual(merged, countWords(text));
  // Capitals at the start of each sentence are lower-cased; apostrophes stay inside words.
  assert.ok(![...merged.keys()].some((word) => word !== word.toLowerCase()));
  assert.ok(merged.has("don't"));
});

test('a row whose merged counts differ from the plain loop fails the benchmark instead of being reported', async () => {
  // Loses the first chunk's counts: fast, and wrong.
  registerBenchExecutor({
    name: 'lossy',
    parallel: false,
    create: () => {
      const inline = new InlineExecutor();
      return { map: async (...args: Parameters<Executor['map']>) => (await inline.map(...args)).slice(1), shutdown: async () => {} } as unknown as Executor;
    },
  });
  await assert.rejects(
    benchWordcount({ megabytes: 0.05, chunks: 4, workers: 1, executors: ['lossy'], repeats: 1, warmup: 0 }),
    /lossy counted differently from the plain loop/,
  );
});
