import t from '../src/bench/tasks.js';
import { wordcountCorpus, splitLines } from '../src/bench/wordcount.js';
import { runPartition } from '../src/collections/partition-task.js';
import { taskAddress } from '../src/core/task.js';
const chunks = splitLines(wordcountCorpus(8), 64);
const addresses = [taskAddress(t.words), taskAddress(t.withOne), taskAddress(t.add)];
const spec = { read: { from: 'items' }, steps: [{ op: 'flatMap', task: 0, args: [] }, { op: 'map', task: 1, args: [] }], write: { to: 'shuffle', kind: 'reduceByKey', partitions: 16, task: 2 }, async: false } as any;
for (let i = 0; i < 10; i++) chunks.map((c) => runPartition(addresses as any, spec, [c]));
