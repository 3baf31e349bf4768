// What the word-count server exposes (the articles' zmq REQ/REP word count, as RPC):
//   npx weft serve --module build/examples/wordcount-objects.js --port 5000 --authkey-file key.txt         (rpc-wordcount)
//   npx weft serve --zmq --module build/examples/wordcount-objects.js --port 5555 --authkey-file key.txt   (zmq-wordcount)

/** Counts the words of `text`, lower-cased; a Map crosses the wire as a Map. */
export function countWords(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}
