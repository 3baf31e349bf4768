// The articles' `multiprocessing.Pool` pi program, ported line for line:
//
//   def calcPi(nbFutures, tries):
//       p = Pool(5)
//       result = p.map(test, [tries] * nbFutures)
//       return 4. * sum(result) / float(nbFutures * tries)
//
//   npm run example -- pool-pi [processes|threads] [poolSize]
// `processes` is multiprocessing.Pool, `threads` is multiprocessing.dummy.Pool (here truly
// parallel: worker threads). As in the article, sizes above the core count stop helping.
import { ProcessPool, ThreadPool, type Executor } from 'weft';
import tasks from './pi-tasks.js';

async function calcPi(pool: Executor, nbFutures: number, tries: number): Promise<number> {
  const ts = performance.now();
  const result = await pool.map(tasks.test, new Array<number>(nbFutures).fill(tries));
  const ret = (4 * result.reduce((a, b) => a + b, 0)) / (nbFutures * tries);
  console.log('time spend', ((performance.now() - ts) / 1000).toFixed(3), 's');
  return ret;
}

const kind = process.argv[2] ?? 'processes';
const size = Number(process.argv[3] ?? 5);
if (kind !== 'processes' && kind !== 'threads') {
  console.error(`unknown pool ${kind}; choose processes or threads`);
  process.exit(2);
}
await using p = kind === 'processes' ? new ProcessPool({ workers: size }) : new ThreadPool({ workers: size });
console.log(`pi = ${await calcPi(p, 3000, 4000)}  (${kind}, Pool(${size}))`);
