import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxArguments } from '../../src/remote/rpc/arity.js';

test('the most arguments a method takes is read from its parameter list, without running it', () => {
  class Shapes {
    put(item: unknown, options?: { timeout?: number }): unknown { return [item, options]; }
    withDefault(a: number, b = ')', c = [1, 2]): unknown { return [a, b, c]; }
    *gen(n: number): Generator<number> { yield n; }
    async later(x: { a: number; b: number } = { a: 1, b: 2 }): Promise<unknown> { return x; }
    rest(first: number, ...more: number[]): unknown { return [first, more]; }
    usesArguments(): number { return arguments.length; } // eslint-disable-line prefer-rest-params
    none(): void {}
  }
  const s = new Shapes();
  assert.equal(maxArguments(s.put), 2);
  assert.equal(maxArguments(s.withDefault), 3);
  assert.equal(maxArguments(s.gen), 1);
  assert.equal(maxArguments(s.later), 1);
  assert.equal(maxArguments(s.rest), Infinity);
  assert.equal(maxArguments(s.usesArguments), Infinity);
  assert.equal(maxArguments(s.none), 0);
  assert.equal(maxArguments((x: number) => x), 1);
  assert.equal(maxArguments(function named(a: string, /* b, c */ d: string) { return a + d; }), 2);
  assert.equal(maxArguments(Math.max), Infinity, 'native functions have no readable limit');
  assert.equal(maxArguments(s.put.bind(s)), Infinity, 'bound functions neither');
});
