// The articles' ZeroMQ word count (a REQ/REP server that counts words, a client that sends it
// text and merges the counts), as weft RPC over ZeroMQ: the server is a ROUTER socket that
// speaks weft's protocol (authkey handshake, limits, typed errors), the client a DEALER, so the
// 16 chunks are counted with every call in flight at once instead of one request at a time.
//
//   shell 1:  echo secret > key.txt
//             npx weft serve --zmq --module build/examples/wordcount-objects.js --port 5555 --authkey-file key.txt
//   shell 2:  WEFT_AUTHKEY=secret node build/examples/zmq-wordcount.js --connect zmq+tcp://127.0.0.1:5555
//
// Without --connect it starts the server itself, in this process: npm run example -- zmq-wordcount
// Needs the zeromq package (v6): npm install zeromq@6
import { connect, serve } from 'weft';
import * as objects from './wordcount-objects.js';

const TEXT = `It was the best of times, it was the worst of times, it was the age of wisdom,
it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity,
it was the season of Light, it was the season of Darkness, it was the spring of hope,
it was the winter of despair, we had everything before us, we had nothing before us.
`.repeat(250);

function chunks(text: string, count: number): string[] {
  const lines = text.split('\n');
  const size = Math.ceil(lines.length / count);
  return Array.from({ length: count }, (_, i) => lines.slice(i * size, (i + 1) * size).join('\n'));
}

const at = process.argv.indexOf('--connect');
const authkey = process.env.WEFT_AUTHKEY ?? 'wordcount-example';
const server = at < 0 ? await serve({ transport: 'zmq', port: 0, authkey, expose: objects }) : undefined;
const url = at < 0 ? server!.url : process.argv[at + 1]!;

const remote = await connect<typeof objects>(url, { authkey });
const started = performance.now();
const partials = await Promise.all(chunks(TEXT, 16).map((chunk) => remote.countWords(chunk)));
const total = new Map<string, number>();
for (const counts of partials) for (const [word, n] of counts) total.set(word, (total.get(word) ?? 0) + n);
const top = [...total].sort((a, b) => b[1] - a[1]).slice(0, 5);
console.log(`${partials.length} chunks counted over ${url} in ${(performance.now() - started).toFixed(1)} ms`);
console.log(`words: ${[...total.values()].reduce((a, b) => a + b, 0)}, distinct: ${total.size}`);
for (const [word, n] of top) console.log(`${word.padEnd(8)} ${n}`);
await remote.close();
await server?.close();
