/**
 * Memory per pending task, side by side (issue 12): N trivial tasks submitted at once on a
 * 2-worker ThreadPool, awaited three ways, against a bare round-robin over two Workers (a native
 * promise and a Map entry per task). Each mode runs in a fresh process, so its peak RSS (the
 * kernel's maxRSS) is its own. Not a test: run it by hand, under the bench lock.
 *
 *   flock /tmp/weft-bench.lock node build/test/pools/pending-memory.js [tasks=1000000]
 *
 * The modes say where the bytes go: `onDone` is the pool and the futures alone; `result()`
 * adds one native promise per future; `Promise.all(futures)` treats each future as a thenable
 * (a resolve-thenable job, a wrapper promise and the future's own settled promise, each).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ThreadPool, type Future } from '../../src/index.js';

const MODES = ['bare round-robin', 'pool, onDone', 'pool, Promise.all(f.result())', 'pool, Promise.all(futures)'] as const;
type Mode = (typeof MODES)[number];

const [modeArg, tasksArg] = process.argv.slice(2);
const tasks = Number(modeArg && !MODES.includes(modeArg as Mode) ? modeArg : tasksArg ?? 1_000_000);

if (modeArg && MODES.includes(modeArg as Mode)) {
  const started = performance.now();
  await runMode(modeArg as Mode, tasks);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024, seconds }));
} else {
  const self = fileURLToPath(import.meta.url);
  const rows = MODES.map((mode) => ({ mode, ...JSON.parse(execFileSync(process.execPath, [self, mode, String(tasks)], { encoding: 'utf8' })) as { maxRssMb: number; seconds: number } }));
  const bare = rows[0]!.maxRssMb;
  console.log(`${tasks} trivial tasks submitted at once, 2 workers; peak RSS of a fresh process per mode (${process.version})`);
  for (const r of rows) {
    console.log(`${r.mode.padEnd(32)} ${r.maxRssMb.toFixed(0).padStart(6)} MB  ${(r.maxRssMb / bare).toFixed(2)}x bare  ${r.seconds.toFixed(2)} s`);
  }
}

async function runMode(mode: Mode, n: number): Promise<void> {
  if (mode === 'bare round-robin') return bareRoundRobin(n);
  const pool = new ThreadPool({ workers: 2 });
  await pool.start();
  const inc = (x: number) => x + 1;
  const futures: Future<number>[] = [];
  for (let i = 0; i < n; i++) futures.push(pool.submit(inc, i));
  if (mode === 'pool, onDone') {
    await new Promise<void>((resolve) => {
      let left = n;
      for (const f of futures) f.onDone(() => { if (--left === 0) resolve(); });
    });
  } else if (mode === 'pool, Promise.all(f.result())') {
    await Promise.all(futures.map((f) => f.result()));
  } else {
    await Promise.all(futures);
  }
  await pool.shutdown();
}

async function bareRoundRobin(n: number): Promise<void> {
  const source = "const { parentPort } = require('node:worker_threads'); parentPort.on('message', ([id, x]) => parentPort.postMessage([id, x + 1]));";
  const workers = [0, 1].map(() => new Worker(source, { eval: true }));
  const pending = new Map<number, (value: number) => void>();
  for (const w of workers) {
    w.on('message', ([id, value]: [number, number]) => {
      const resolve = pending.get(id)!;
      pending.delete(id);
      resolve(value);
    });
  }
  const promises: Promise<number>[] = [];
  for (let i = 0; i < n; i++) {
    promises.push(new Promise<number>((resolve) => pending.set(i, resolve)));
    workers[i & 1]!.postMessage([i, i]);
  }
  await Promise.all(promises);
  await Promise.all(workers.map((w) => w.terminate()));
}
