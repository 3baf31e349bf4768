// The worker script workerpool runs in `weft bench --peers`.
import workerpool from 'workerpool';
import { monteCarlo, noop } from './peer-worker.js';

workerpool.worker({ noop, monteCarlo });
