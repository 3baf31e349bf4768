// What becomes of each call a dead worker held (src/pools/worker-loss.ts), case by case. The
// end-to-end cases are in crash.test.ts and oom.test.ts; these pin the rules that timing makes
// hard to reach there (a generator's answer lost after it streamed, a kill aimed at one call).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fatesOf, type DeadWorker } from '../../src/pools/worker-loss.js';

/** A worker that answered calls 1..10 and holds a..e as seqs 11..15. */
function dead(over: Partial<DeadWorker<string>> = {}): DeadWorker<string> {
  return { ready: true, settled: 10, exiting: 'kill', killReason: undefined, killTarget: undefined, streamed: new Set(), ...over };
}
const held = ['a', 'b', 'c', 'd', 'e'];

describe('worker loss: the fate of each held call', () => {
  test('started known: the running call is blamed; those it had finished and those not started run again', () => {
    assert.deepEqual(fatesOf(dead(), 13, held), ['rerun', 'rerun', 'blamed', 'rerun', 'rerun']);
  });

  test('died between calls (started was answered already): nothing is blamed', () => {
    assert.deepEqual(fatesOf(dead(), 10, held), ['rerun', 'rerun', 'rerun', 'rerun', 'rerun']);
  });

  test('no report and several calls: all are suspects; with one call, that one is blamed', () => {
    assert.deepEqual(fatesOf(dead(), undefined, held), ['suspect', 'suspect', 'suspect', 'suspect', 'suspect']);
    assert.deepEqual(fatesOf(dead(), undefined, ['a']), ['blamed']);
  });

  test('a call that streamed values is never run again, neither as a rerun nor as a suspect', () => {
    const streamed = new Set(['b']);
    assert.deepEqual(fatesOf(dead({ streamed }), 13, held), ['rerun', 'streamed', 'blamed', 'rerun', 'rerun']);
    assert.deepEqual(fatesOf(dead({ streamed }), undefined, held), ['suspect', 'streamed', 'suspect', 'suspect', 'suspect']);
  });

  test('killed for one call: that one is blamed even when a later one was running', () => {
    assert.deepEqual(fatesOf(dead({ killReason: 'cancelled with force', killTarget: 'a' }), 12, held), ['blamed', 'rerun', 'rerun', 'rerun', 'rerun']);
    // The target answered before the kill landed: nobody is blamed.
    assert.deepEqual(fatesOf(dead({ killReason: 'cancelled with force', killTarget: 'z' }), 12, held), ['rerun', 'rerun', 'rerun', 'rerun', 'rerun']);
  });

  test('terminated by the caller without a report: the oldest call is blamed, the rest run again', () => {
    assert.deepEqual(fatesOf(dead({ killReason: 'terminated by the caller' }), undefined, held), ['blamed', 'rerun', 'rerun', 'rerun', 'rerun']);
  });

  test('a worker that died before it was ready: all fail (running them again would loop)', () => {
    assert.deepEqual(fatesOf(dead({ ready: false }), undefined, held), ['blamed', 'blamed', 'blamed', 'blamed', 'blamed']);
  });
});
