// Preload for measuring what observability costs: `node --import ./scripts/observe-on.mjs
// dist/cli/main.js bench overhead ...` runs the benchmark with tracing (an SDK provider whose
// batched spans go nowhere) and metrics (a fresh registry) both on, in the main process only
// (its pool workers then just pass trace carriers on, as a worker with no tracer of its own does).
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { observe } from '../dist/index.js';

if (!process.env.WEFT_OBSERVE_ON) {
  process.env.WEFT_OBSERVE_ON = '1';
  const discard = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] });
  // WEFT_OBSERVE_BENCH=tracing | metrics measures one of them alone.
  const only = process.env.WEFT_OBSERVE_BENCH;
  await observe({
    tracing: only === 'metrics' ? false : { tracerProvider },
    metrics: only === 'tracing' ? undefined : { registry: new Registry() },
  });
}
