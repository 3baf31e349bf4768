import { bag, ThreadPool } from '../src/index.js';
import t, { countWords } from '../src/bench/tasks.js';
import { wordcountCorpus, splitLines } from '../src/bench/wordcount.js';
import { measureInterleaved } from '../src/bench/harness.js';
const text = wordcountCorpus(8);
const chunks = splitLines(text, 64);
const pool = new ThreadPool({ workers: 2 }); await pool.start();
const merge = (parts: Map<string, number>[]) => { const total = new Map(); for (const p of parts) for (const [w, c] of p) total.set(w, (total.get(w) ?? 0) + c); return total; };
const names = ['plain', 'threads map', 'bag P=8', 'bag P=16', 'bag P=32', 'bag P=64'];
const res = await measureInterleaved<unknown>([
  { name: 'plain', run: () => merge(chunks.map(countWords)) },
  { name: 'threads map', run: async () => merge(await pool.map(t.countWords, chunks)) },
  ...[8, 16, 32, 64].map((P) => ({ name: 'bag', run: async () => new Map(await bag(chunks, { partitions: P }).flatMap(t.words).map(t.withOne).reduceByKey(t.add).collect(pool)) })),
], { repeats: 7, warmup: 1 });
res.forEach((r, i) => console.log(names[i], r.median.toFixed(3), r.spread.toFixed(2)));
await pool.shutdown();
