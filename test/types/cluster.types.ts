// Type-level tests for the cluster and workflows: only type-checked (by `tsc -p tsconfig.test.json`).
import { ClusterExecutor, chain, chord, defineTasks, group, sig, type Executor, type Future, type WorkerInfo } from '../../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function expectType<T>(_value: T): <U>(_check: Equal<T, U> extends true ? true : never) => void {
  return () => {};
}

const tasks = defineTasks(import.meta.url, {
  square(x: number): number { return x * x; },
  label(x: number): string { return String(x); },
  total(values: number[]): number { return values.length; },
});

declare const cluster: ClusterExecutor;
const executor: Executor = cluster; // a ClusterExecutor is an Executor
expectType(cluster.submit(tasks.square, 2))<Future<number, never>>(true);
expectType(cluster.workers())<WorkerInfo[]>(true);
cluster.on('worker-lost', (worker) => expectType(worker.reason)<string>(true));
// @ts-expect-error an unknown event name does not compile
cluster.on('worker-exploded', () => {});

// group keeps each member's type, in order; a list gives an array
expectType(group(sig(tasks.square, 1), sig(tasks.label, 2)).run(executor))<Promise<[number, string]>>(true);
expectType(group([1, 2].map((x) => sig(tasks.square, x))).run(executor))<Promise<number[]>>(true);
// chain resolves to its last step's result; chord to its body's
expectType(chain(sig(tasks.square, 2), sig(tasks.label)).run(executor))<Promise<string>>(true);
expectType(chord([sig(tasks.square, 1)], sig(tasks.total)).run(executor))<Promise<number>>(true);
