import { ThreadPool } from '../../src/index.js';
import { executorContract } from '../executor-suite.js';

executorContract('ThreadPool', (concurrency) => new ThreadPool({ workers: concurrency }));
