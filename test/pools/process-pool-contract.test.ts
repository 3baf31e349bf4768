import { ProcessPool } from '../../src/index.js';
import { executorContract } from '../executor-suite.js';

executorContract('ProcessPool', (concurrency) => new ProcessPool({ workers: concurrency }));
