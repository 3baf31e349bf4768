// What observability costs per task, side by side in one process: the same trivial tasks on
// InlineExecutor, GreenPool and ThreadPool with observability off, metrics on, tracing on and
// both on, the modes alternating round by round. Prints the median CPU time per task of each
// mode (process.cpuUsage: this process and its worker threads; it moves far less than wall time
// on a loaded machine) and its difference to off.
//
//   node scripts/observe-cost.mjs [--tasks N] [--rounds N] [--baseline DIST]
//
// --baseline DIST also runs the executors of another build of weft (say the previous commit's
// dist/) in the same process, observability off, to compare "off" with code without the hooks.
// Spans go to a BatchSpanProcessor whose exporter drops them. Run after `npm run build`.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import * as weft from '../dist/index.js';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '7' }, baseline: { type: 'string' } } });
const TASKS = Number(values.tasks);
const ROUNDS = Number(values.rounds);
const discard = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] });
const MODES = {
  off: undefined,
  metrics: () => ({ metrics: { registry: new Registry() } }),
  tracing: () => ({ tracing: { tracerProvider } }),
  both: () => ({ tracing: { tracerProvider }, metrics: { registry: new Registry() } }),
};
const identity = (x) => x; // shipped by source to the thread pools

function executorsOf(lib, suffix) {
  return {
    [`inline${suffix}`]: new lib.InlineExecutor(),
    [`green${suffix}`]: new lib.GreenPool({ size: 64 }),
    [`threads${suffix}`]: new lib.ThreadPool({ workers: 2 }),
  };
}
const executors = executorsOf(weft, '');
const baseline = values.baseline ? executorsOf(await import(pathToFileURL(resolve(values.baseline, 'index.js')).href), ' (baseline)') : {};
for (const pool of Object.values({ ...executors, ...baseline })) await pool.start?.();

async function run(executor) {
  const cpu = process.cpuUsage();
  const futures = new Array(TASKS);
  for (let i = 0; i < TASKS; i++) futures[i] = executor.submit(identity, i);
  await Promise.all(futures);
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / TASKS;
}

const times = new Map();
const record = (key, us) => times.set(key, [...(times.get(key) ?? []), us]);
let observation;
for (let round = 0; round <= ROUNDS; round++) {
  for (const [name, executor] of Object.entries(baseline)) {
    const us = await run(executor);
    if (round > 0) record(`${name}/off`, us);
  }
  for (const [mode, options] of Object.entries(MODES)) {
    observation?.close();
    observation = options ? await weft.observe(options()) : undefined;
    for (const [name, executor] of Object.entries(executors)) {
      const us = await run(executor);
      if (round > 0) record(`${name}/${mode}`, us); // round 0 warms up
    }
  }
}
observation?.close();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`CPU µs per task, median of ${ROUNDS} rounds of ${TASKS} tasks submitted at once (modes alternate each round)`);
console.log('executor               mode      CPU µs/task   vs off');
for (const name of Object.keys(executors)) {
  const off = median(times.get(`${name}/off`));
  const rows = Object.keys(MODES).map((mode) => [name, mode]);
  if (values.baseline) rows.splice(1, 0, [`${name} (baseline)`, 'off']);
  for (const [label, mode] of rows) {
    const m = median(times.get(`${label}/${mode}`));
    const diff = label === name && mode === 'off' ? '' : `${m - off >= 0 ? '+' : ''}${(m - off).toFixed(2)} µs (x${(m / off).toFixed(2)})`;
    console.log(`${label.padEnd(22)} ${mode.padEnd(9)} ${m.toFixed(2).padStart(11)}   ${diff}`);
  }
}
await Promise.all(Object.values({ ...executors, ...baseline }).map((e) => e.shutdown()));
await tracerProvider.shutdown();
