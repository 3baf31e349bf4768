// The articles' word count over a message queue (RabbitMQ with pika in the original): workers
// consume text from the `wordcount` queue and answer each message with its counts; the client
// splits the text, sends every chunk as a request at once and merges the answers. The same
// program runs on any broker weft speaks: the URL picks it.
//
//   shell 1 (a worker; start as many as you like):
//     node build/examples/broker-wordcount.js --worker --url amqp://guest:guest@127.0.0.1:5672
//   shell 2 (the client):
//     node build/examples/broker-wordcount.js --url amqp://guest:guest@127.0.0.1:5672
//
// Without --worker or --client it does both in one process: npm run example -- broker-wordcount
// (the URL defaults to RabbitMQ on loopback; try redis://127.0.0.1:6379, nats://127.0.0.1:4222
// or memory://example).
import { openBroker, type Message } from 'weft';
import { countWords } from './wordcount-objects.js';

const QUEUE = 'weft-example.wordcount';
const TEXT = `It was the best of times, it was the worst of times, it was the age of wisdom,
it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity,
it was the season of Light, it was the season of Darkness, it was the spring of hope,
it was the winter of despair, we had everything before us, we had nothing before us.
`.repeat(250);

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at < 0 ? undefined : process.argv[at + 1];
}

function chunks(text: string, count: number): string[] {
  const lines = text.split('\n');
  const size = Math.ceil(lines.length / count);
  return Array.from({ length: count }, (_, i) => lines.slice(i * size, (i + 1) * size).join('\n'));
}

const url = option('--url') ?? 'amqp://guest:guest@127.0.0.1:5672';
const worker = process.argv.includes('--worker');
const client = process.argv.includes('--client') || !worker;

await using broker = await openBroker(url);
if (worker || !process.argv.includes('--client')) {
  // autoAck: the returned Map is the answer, and the message is acked once it is sent.
  await broker.consume(QUEUE, (message: Message<string>) => countWords(message.body), { prefetch: 4 });
  if (worker && !client) {
    console.log(`counting words from ${QUEUE} on ${url}; Ctrl-C to stop`);
    await new Promise((resolve) => process.once('SIGINT', resolve));
  }
}
if (client) {
  const started = performance.now();
  const partials = await Promise.all(chunks(TEXT, 16).map((chunk) => broker.request<Map<string, number>>(QUEUE, chunk, { timeout: 10_000 })));
  const total = new Map<string, number>();
  for (const counts of partials) for (const [word, n] of counts) total.set(word, (total.get(word) ?? 0) + n);
  console.log(`${partials.length} chunks counted over ${broker.kind} in ${(performance.now() - started).toFixed(1)} ms`);
  console.log(`words: ${[...total.values()].reduce((a, b) => a + b, 0)}, distinct: ${total.size}`);
  for (const [word, n] of [...total].sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log(`${word.padEnd(8)} ${n}`);
}
