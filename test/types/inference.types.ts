// Type-level tests: this file is only type-checked (by `tsc -p tsconfig.test.json` in
// `npm test`); each @ts-expect-error must be an error, and each `expectType` must match.
import { GreenPool, asCompleted, defineTasks, gather, type Future, type Executor } from '../../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function expectType<T>(_value: T): <U>(_check: Equal<T, U> extends true ? true : never) => void {
  return () => {};
}

const tasks = defineTasks(import.meta.url, {
  monteCarlo(tries: number): number { return tries; },
  async fetchLength(url: string): Promise<number> { return url.length; },
  *countdown(n: number): Generator<number, string> { while (n > 0) yield n--; return 'done'; },
});

declare const executor: Executor;
const pool = new GreenPool();

// map(tasks.monteCarlo, [1, 2]) is Promise<number[]>
expectType(executor.map(tasks.monteCarlo, [1, 2]))<Promise<number[]>>(true);
// async tasks resolve to the awaited value
expectType(executor.submit(tasks.fetchLength, 'https://example.org'))<Future<number, never>>(true);
// generator tasks: the future resolves to the return value and iterates the yields
expectType(executor.submit(tasks.countdown, 3))<Future<string, number>>(true);
// plain functions work too
expectType(pool.spawn(async (a: number, b: string) => `${a}${b}`, 1, 'x'))<Future<string, never>>(true);
expectType(executor.starmap((a: number, b: number) => a + b, [[1, 2], [3, 4]]))<Promise<number[]>>(true);
expectType(executor.imap(tasks.monteCarlo, [1]))<AsyncIterable<number>>(true);
// a TaskRef called directly keeps the original signature
expectType(tasks.monteCarlo(5))<number>(true);
expectType(tasks.monteCarlo.with({ timeout: 5 }))<typeof tasks.monteCarlo>(true);
// gather keeps tuple types
void (async () => {
  const [n, s] = await gather([executor.submit(tasks.monteCarlo, 1), pool.spawn(async () => 'x')]);
  expectType(n)<number>(true);
  expectType(s)<string>(true);
});

// @ts-expect-error a wrong argument type does not compile
executor.map(tasks.monteCarlo, ['a', 'b']);
// @ts-expect-error neither does a wrong argument to submit
executor.submit(tasks.monteCarlo, 'many');
// @ts-expect-error nor a missing argument
executor.submit(tasks.monteCarlo);
// @ts-expect-error nor too many
executor.submit(tasks.monteCarlo, 1, 2);
// @ts-expect-error nor an unknown option
tasks.monteCarlo.with({ retry: 3 });

// asCompleted yields the futures themselves (typed without `then`), so result() is there
void (async () => {
  for await (const done of asCompleted([executor.submit(tasks.monteCarlo, 1)])) {
    expectType(await done.result())<number>(true);
    // @ts-expect-error the element is the future, not its result
    const n: number = done;
    void n;
  }
});
