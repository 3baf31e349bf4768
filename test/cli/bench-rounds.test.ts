// The fairness of `weft bench`: rows measured in rounds whose first row rotates (harness.ts),
// and the bare baselines' writes gathered per tick (tick-batcher.ts), with `bench rpc` on top.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inRounds, measureInterleaved, roundOrder } from '../../src/bench/harness.js';
import { TickBatcher } from '../../src/bench/tick-batcher.js';
import { medianCpu } from '../../src/bench/row-cpu.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('roundOrder runs every row once per round, the first row moving on by one each round', () => {
  assert.deepEqual([0, 1, 2, 3].map((round) => roundOrder(3, round)), [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 2]]);
  assert.deepEqual(roundOrder(1, 5), [0]);
  assert.deepEqual(roundOrder(0, 2), []);
});

test('inRounds: warm-up rounds (negative) first, each measured round in roundOrder', async () => {
  const visits: string[] = [];
  await inRounds(2, { warmup: 1, rounds: 2 }, async (row, round) => void visits.push(`${round}:${row}`));
  assert.deepEqual(visits, ['-1:0', '-1:1', '0:1', '0:0', '1:0', '1:1']);
});

test('measureInterleaved interleaves the rows, rotates the first, and keeps only measured rounds', async () => {
  const order: string[] = [];
  const contenders = ['a', 'b', 'c'].map((name) => ({ name, run: () => order.push(name) }));
  const results = await measureInterleaved(contenders, { warmup: 1, repeats: 3 });
  assert.deepEqual(order.join(''), 'abc' + 'bca' + 'cab' + 'abc');
  for (const result of results) assert.equal(result.samples.length, 3);
  // The value is the last measured run's: c ran last in the final round, as the 12th call.
  assert.deepEqual(results.map((r) => r.value), [10, 11, 12]);
});

test('measureInterleaved with a meter: read around each run, outside its timing, kept for measured rounds only', async () => {
  const events: string[] = [];
  let reading = 0;
  const contenders = ['a', 'b'].map((name) => ({ name, run: () => void events.push(`run ${name}`) }));
  const meter = {
    start: () => (events.push('start'), ++reading),
    stop: (started: number) => (events.push('stop'), started === 1 ? undefined : [started * 10]),
  };
  const results = await measureInterleaved(contenders, { warmup: 1, repeats: 2, meter });
  assert.deepEqual(events.slice(0, 6), ['start', 'run a', 'stop', 'start', 'run b', 'stop']);
  // Readings 1 and 2 were the warm-up round's; round 1 ran b (3) then a (4), round 2 a (5) then b (6).
  assert.deepEqual(results.map((r) => r.metered), [[[40], [50]], [[30], [60]]]);
  const unmetered = await measureInterleaved(contenders, { warmup: 0, repeats: 1 });
  assert.equal(unmetered[0]!.metered, undefined);
});

test('medianCpu: the median of each figure over the runs that were read', () => {
  assert.deepEqual(medianCpu([[1, 4], undefined, [3, 2], [2, 9]]), [2, 4]);
  assert.deepEqual(medianCpu([[1, 4], [3, 6]]), [2, 5]);
  assert.equal(medianCpu([undefined]), undefined);
  assert.equal(medianCpu(undefined), undefined);
});

test('TickBatcher: the first write of a tick leaves at once, the rest of the tick leave together', async () => {
  const writes: string[][] = [];
  const batcher = new TickBatcher<string>((items) => writes.push(items));
  batcher.push('a');
  assert.deepEqual(writes, [['a']], 'the first write is not delayed');
  batcher.push('b');
  batcher.push('c');
  assert.equal(writes.length, 1, 'the others wait for the tick to end');
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.deepEqual(writes, [['a'], ['b', 'c']]);
  await new Promise<void>((resolve) => setImmediate(resolve));
  batcher.push('d');
  assert.deepEqual(writes, [['a'], ['b', 'c'], ['d']], 'a new tick writes its first item at once again');
});

test('bench rpc --json: every transport answers every call, the bare rows batching their writes', () => {
  const run = spawnSync(process.execPath, [cli, 'bench', 'rpc', '--calls', '50', '--pipelined', '2000', '--window', '200', '--repeats', '1', '--json'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  const { figures } = JSON.parse(run.stdout) as { figures: Record<string, { awaited: number; pipelined: number | null }> };
  for (const name of ['bare net socket', 'JSON over TCP', 'weft RPC']) {
    assert.ok(figures[name]!.awaited > 0 && figures[name]!.pipelined! > 0, `${name}: ${JSON.stringify(figures[name])}`);
  }
  // With zeromq installed, DEALER/ROUTER pipelines through the batcher too (REQ/REP cannot pipeline: null).
  if (figures['bare zeromq DEALER/ROUTER']) assert.ok(figures['bare zeromq DEALER/ROUTER'].pipelined! > 0);
});
