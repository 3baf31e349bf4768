// Type-level tests for Remote<T>: only type-checked (by `tsc -p tsconfig.test.json`).
import { byRef, connect, Manager, type Dict, type Future, type Remote, type RemoteRoot } from '../../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function expectType<T>(_value: T): <U>(_check: Equal<T, U> extends true ? true : never) => void {
  return () => {};
}

class Counter {
  count = 0;
  _hidden = 1;
  increment(by = 1): number { return (this.count += by); }
  async later(): Promise<string> { return 'x'; }
  *ticks(n: number): Generator<number, 'done'> { while (n-- > 0) yield n; return 'done'; }
  release(): void {}
}
const api = {
  version: '1',
  add: (a: number, b: number) => a + b,
  counter: () => byRef(new Counter()),
};

async function check(): Promise<void> {
  const remote = await connect<typeof api>('tcp://127.0.0.1:1', { authkey: 'k' });
  expectType(remote)<RemoteRoot<typeof api>>(true);
  // every method becomes async: a Future of its awaited result
  expectType(remote.add(1, 2))<Future<number, never>>(true);
  // properties are read as promises
  expectType(remote.version)<Promise<string>>(true);
  // byRef(x) in a result arrives as Remote<typeof x>
  const counter = await remote.counter();
  expectType(counter)<Remote<Counter>>(true);
  expectType(counter.later())<Future<string, never>>(true);
  expectType(counter.ticks(3))<Future<'done', number>>(true);
  expectType(counter.count)<Promise<number>>(true);
  // the remote object's own `release` wins over the proxy's
  expectType(counter.release())<Future<void, never>>(true);
  // per-call options keep the signature
  expectType(remote.add.with({ timeout: 5 })(1, 2))<Future<number, never>>(true);
  await remote.close();

  // @ts-expect-error wrong argument type
  remote.add('1', 2);
  // @ts-expect-error names starting with _ are not exposed
  void counter._hidden;
  // @ts-expect-error a remote proxy is never thenable
  void remote.then;

  const client = await Manager.connect({ port: 1, authkey: 'k' });
  const dict = await client.dict<string, number>();
  expectType(dict)<Remote<Dict<string, number>>>(true);
  expectType(dict.get('a'))<Future<number | undefined, never>>(true);
}
void check;
