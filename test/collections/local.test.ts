// The Bag suite on the executors of this process and machine.
import { GreenPool, InlineExecutor, ProcessPool, ThreadPool } from '../../src/index.js';
import { collectionSuite } from './suite.js';

collectionSuite('InlineExecutor', () => new InlineExecutor(), { parallel: false });
collectionSuite('GreenPool', () => new GreenPool({ size: 4 }));
collectionSuite('ThreadPool', () => new ThreadPool({ workers: 2 }));
collectionSuite('ProcessPool', () => new ProcessPool({ workers: 2 }));
