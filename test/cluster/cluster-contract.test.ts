import { ClusterExecutor } from '../../src/index.js';
import { executorContract } from '../executor-suite.js';

// Two local worker processes joined over loopback; `concurrency` caps what the whole cluster
// runs at once, as `workers` does for a pool.
executorContract('ClusterExecutor', (concurrency) => new ClusterExecutor({
  listen: { host: '127.0.0.1', port: 0 },
  authkey: 'contract-suite',
  localWorkers: 2,
  localConcurrency: concurrency,
  concurrency,
}));
