// The articles' Monte Carlo pi, `calcPi(3000, 4000)`, ported. The executor is the one line that
// changes between the articles' versions (sequential map, multiprocessing.dummy.Pool, Pool):
//   npm run example -- pi [inline|green|threads|processes]
import { GreenPool, InlineExecutor, ProcessPool, ThreadPool, type Executor } from 'weft';
import tasks from './pi-tasks.js';

const executors: Record<string, () => Executor> = {
  inline: () => new InlineExecutor(),
  green: () => new GreenPool({ size: 5 }),
  threads: () => new ThreadPool({ workers: 2 }),
  processes: () => new ProcessPool({ workers: 2 }),
};

async function calcPi(executor: Executor, nbFutures: number, tries: number): Promise<number> {
  const ts = performance.now();
  const result = await executor.map(tasks.test, new Array<number>(nbFutures).fill(tries));
  const ret = (4 * result.reduce((a, b) => a + b, 0)) / (nbFutures * tries);
  console.log('time spend', ((performance.now() - ts) / 1000).toFixed(3), 's');
  return ret;
}

const name = process.argv[2] ?? 'inline';
const make = executors[name];
if (!make) {
  console.error(`unknown executor ${name}; choose one of ${Object.keys(executors).join(', ')}`);
  process.exit(2);
}
await using executor = make();
console.log(`pi = ${await calcPi(executor, 3000, 4000)}  (${name})`);
