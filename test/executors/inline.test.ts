import { InlineExecutor } from '../../src/index.js';
import { executorContract } from '../executor-suite.js';

executorContract('InlineExecutor', () => new InlineExecutor(), { parallel: false });
