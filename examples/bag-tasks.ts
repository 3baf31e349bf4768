// The steps of the Bag examples (bag-wordcount.ts, bag-pi.ts). Workers import this module by
// URL, or load it with `weft worker --tasks build/examples/bag-tasks.js`.
import { defineTasks } from 'weft';

/** A small seeded PRNG (mulberry32): the same points for the same seed, in every worker. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export default defineTasks(import.meta.url, {
  /** The words of a line, lower-cased. */
  words(line: string): string[] {
    return line.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
  },
  withOne(word: string): [string, number] {
    return [word, 1];
  },
  add(a: number, b: number): number {
    return a + b;
  },
  /** The articles' test(tries), seeded: how many of `tries` points fall inside the quarter circle. */
  hits(seed: number, tries: number): number {
    const next = random(seed);
    let inside = 0;
    for (let i = 0; i < tries; i++) {
      const x = next();
      const y = next();
      if (x * x + y * y <= 1) inside++;
    }
    return inside;
  },
});

/** The text the word count example counts when no file is given: a few lines, repeated. */
export function sampleText(repeats = 500): string {
  const lines = [
    'The warp is stretched on the loom, and the weft is woven through it.',
    'A weaver passes the shuttle, the weft crosses the warp, and the cloth grows.',
    "Threads, processes and hosts: the same work, woven on whichever loom is at hand.",
    'Count the words of the cloth, line by line, and add the counts together.',
  ];
  const out: string[] = [];
  for (let i = 0; i < repeats; i++) out.push(lines[i % lines.length]!, lines[(i * 7 + 3) % lines.length]!);
  return out.join('\n');
}
