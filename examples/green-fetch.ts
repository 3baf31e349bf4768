// gevent's spawn/joinall and eventlet's GreenPool.imap, ported to weft's green threads. The
// articles fetch URLs; to stay on this machine this serves a few pages on 127.0.0.1 first.
//   npm run example -- green-fetch
import { createServer } from 'node:http';
import { GreenPool, joinAll } from 'weft';

const server = createServer((req, res) => setTimeout(() => res.end(`page ${req.url}`), 50));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as { port: number };
const urls = Array.from({ length: 20 }, (_, i) => `http://127.0.0.1:${port}/${i}`);

async function fetchLength(url: string): Promise<number> {
  const response = await fetch(url);
  return (await response.text()).length;
}

const pool = new GreenPool({ size: 10 });
// eventlet: for body in pool.imap(fetch, urls)
let total = 0;
for await (const length of pool.imap(fetchLength, urls)) total += length;
console.log(`imap: ${urls.length} pages, ${total} bytes`);
// gevent: jobs = [spawn(fetch, url) ...]; joinall(jobs, timeout=2)
const jobs = urls.map((url) => pool.spawn(fetchLength, url));
const finished = await joinAll(jobs, { timeout: 2000 });
console.log(`joinAll: ${finished.length} of ${jobs.length} finished within 2 s`);
await pool.shutdown();
server.close();
