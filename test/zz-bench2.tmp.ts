import t, { countWords } from '../src/bench/tasks.js';
import { wordcountCorpus, splitLines } from '../src/bench/wordcount.js';
import { runPartition } from '../src/collections/partition-task.js';
import { taskAddress } from '../src/core/task.js';
const text = wordcountCorpus(8);
const chunks = splitLines(text, 64);
const addresses = [taskAddress(t.words), taskAddress(t.withOne), taskAddress(t.add)];
const spec = { read: { from: 'items' }, steps: [{ op: 'flatMap', task: 0, args: [] }, { op: 'map', task: 1, args: [] }], write: { to: 'shuffle', kind: 'reduceByKey', partitions: 16, task: 2 }, async: false } as any;
const spec2 = { read: { from: 'items' }, steps: [{ op: 'flatMap', task: 0, args: [] }], write: { to: 'countByValue' }, async: false } as any;
const variants: [string, () => unknown][] = [
  ['countWords', () => chunks.map(countWords)],
  ['words only', () => chunks.map(t.words.fn)],
  ['rp reduceByKey', () => chunks.map((c) => runPartition(addresses as any, spec, [c]))],
  ['rp countByValue', () => chunks.map((c) => runPartition(addresses as any, spec2, [c]))],
];
const best = variants.map(() => Infinity);
for (let round = 0; round < 12; round++) variants.forEach(([, run], i) => { const u = process.cpuUsage(); run(); const d = process.cpuUsage(u); best[i] = Math.min(best[i]!, (d.user + d.system) / 1e6); });
variants.forEach(([name], i) => console.log(name, best[i]!.toFixed(3), (best[i]! / best[0]!).toFixed(2)));
