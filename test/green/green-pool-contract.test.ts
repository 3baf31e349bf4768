import { GreenPool } from '../../src/index.js';
import { executorContract } from '../executor-suite.js';

executorContract('GreenPool', (concurrency) => new GreenPool({ size: concurrency }));
