import { startFauxqsProcess } from './dist/bench/broker-process.js';
import { openBroker } from './dist/broker/open.js';
import { SqsApi } from './dist/broker/sqs/api.js';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const stats = {};
for (const m of ['receive', 'sendBatch', 'deleteBatch', 'visibilityBatch']) {
  const orig = SqsApi.prototype[m];
  SqsApi.prototype[m] = async function (...args) {
    const r = await orig.apply(this, args);
    const s = stats[m] ??= { calls: 0, items: 0, empty: 0 };
    s.calls++;
    const items = m === 'receive' ? r.length : args[1].length;
    s.items += items; if (items === 0) s.empty++;
    return r;
  };
}
const em = await startFauxqsProcess();
const a = await openBroker(em.url), b = await openBroker(em.url);
const N = 5000;
let n = 0, done; const all = new Promise((r) => done = r);
await b.consume('tp', () => { if (++n === N) done(); }, { prefetch: 100 });
const t = performance.now();
for (let i = 0; i < N; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => a.publish('tp', { id: i + j, name: 'weft' })));
await all;
console.log('msgs/s', Math.round(N / ((performance.now() - t) / 1000)));
console.log(JSON.stringify(stats));

await a.close(); await b.close(); await em.stop();
