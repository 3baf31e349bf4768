// A worker of the `static split` row of `weft bench wordcount`: counts the chunks it is sent
// (one contiguous share of them) into one Map and answers once, no queue, no message per chunk.
import { parentPort } from 'node:worker_threads';
import { countWords } from './tasks.js';

parentPort!.on('message', (chunks: string[]) => {
  const total = new Map<string, number>();
  for (const chunk of chunks) for (const [word, count] of countWords(chunk)) total.set(word, (total.get(word) ?? 0) + count);
  parentPort!.postMessage(total);
});
