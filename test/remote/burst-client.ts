// `node burst-client.js URL AUTHKEY N`: opens N connections at the same instant, makes one call on
// each, closes them, and prints {"ok": n, "failures": [messages]} on stdout. A separate process,
// so that the server accepts the whole burst before any client can answer its HELLO.
import { connect } from '../../src/index.js';

const [url, authkey, count] = process.argv.slice(2);
const outcomes = await Promise.allSettled(Array.from({ length: Number(count) }, async (_, i) => {
  const remote = await connect<{ add(a: number, b: number): number }>(url!, { authkey: authkey! });
  try {
    if (await remote.add(i, 1) !== i + 1) throw new Error(`wrong sum on client ${i}`);
  } finally {
    await remote.close();
  }
}));
const failures = outcomes.flatMap((o) => o.status === 'rejected' ? [(o.reason as Error).message] : []);
console.log(JSON.stringify({ ok: outcomes.length - failures.length, failures }));
