import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Greenlet, InvalidStateError } from '../../src/index.js';

describe('Greenlet', () => {
  test("the articles' example prints 12, 56, 34 and never 78", () => {
    const printed: number[] = [];
    const log = (n: number) => printed.push(n);
    const gr1: Greenlet = new Greenlet(function* () { log(12); yield gr2.switch(); log(34); });
    const gr2: Greenlet = new Greenlet(function* () { log(56); yield gr1.switch(); log(78); });
    gr1.switch();
    assert.deepEqual(printed, [12, 56, 34]);
    assert.equal(gr1.dead, true);
    assert.equal(gr2.dead, false, 'gr2 stays suspended where it switched away');
  });

  test('values travel through switch: arguments to start, yield evaluates to what comes back', () => {
    const trace: unknown[] = [];
    const ping: Greenlet = new Greenlet(function* (first: number) {
      trace.push(['ping got', first]);
      const reply = yield pong.switch(first + 1);
      trace.push(['ping got', reply]);
      return 'ping done';
    });
    const pong: Greenlet = new Greenlet(function* (value: number) {
      trace.push(['pong got', value]);
      yield ping.switch(value * 10);
    });
    const result = ping.switch(1);
    assert.deepEqual(trace, [['ping got', 1], ['pong got', 2], ['ping got', 20]]);
    assert.equal(result, 'ping done', "a greenlet started from outside returns its value to switch's caller");
  });

  test('a greenlet that finishes returns its value to the greenlet that started it', () => {
    const log: unknown[] = [];
    const child = new Greenlet(function* (x: number) { return x * 2; });
    const parent = new Greenlet(function* () {
      const fromChild = yield child.switch(21);
      log.push(fromChild);
      return 'parent done';
    });
    assert.equal(parent.switch(), 'parent done');
    assert.deepEqual(log, [42]);
    assert.equal(child.parent, parent);
    assert.equal(parent.parent, undefined);
  });

  test('an error thrown in a greenlet is thrown in its parent', () => {
    const child = new Greenlet(function* () { throw new Error('child failed'); });
    const caught: string[] = [];
    const parent = new Greenlet(function* () {
      try {
        yield child.switch();
      } catch (error) {
        caught.push((error as Error).message);
      }
      return 'recovered';
    });
    assert.equal(parent.switch(), 'recovered');
    assert.deepEqual(caught, ['child failed']);
    const lone = new Greenlet(function* () { throw new TypeError('to the outside'); });
    assert.throws(() => lone.switch(), /to the outside/);
  });

  test('misuse gives clear errors', () => {
    const done = new Greenlet(function* () {});
    done.switch();
    assert.throws(() => done.switch(), InvalidStateError);
    const bad = new Greenlet(function* () { yield 5; });
    assert.throws(() => bad.switch(), /may only yield the result of other\.switch/);
    assert.throws(() => new Greenlet(42 as never), TypeError);
  });
});
