// `weft bench broker` against the servers on loopback (Redis, RabbitMQ, NATS JetStream) and
// memory, a weft broker, fauxqs (an SQS emulator) and librdkafka's mock Kafka cluster it starts, with tiny counts; and an unreachable server, which is a skipped row, not a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BrokerBenchRow } from '../../src/bench/broker.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

type Row = BrokerBenchRow;

function benchBroker(...args: string[]): { code: number | null; rows: Row[]; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [cli, 'bench', 'broker', '--messages', '200', '--calls', '50', '--repeats', '1', ...args], { encoding: 'utf8', timeout: 120_000 });
  const rows = run.status === 0 && args.includes('--json') ? (JSON.parse(run.stdout) as { rows: Row[] }).rows : [];
  return { code: run.status, rows, stdout: run.stdout, stderr: run.stderr };
}

test('weft bench broker --json: every broker consumed every message and answered every request', () => {
  const run = benchBroker('--json');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.rows.map((r) => r.broker), [
    'memory', 'redis', 'redis, bare ioredis', 'amqp', 'amqp, bare amqplib', 'nats', 'nats, bare nats.js', 'weft', 'sqs', 'kafka',
  ]);
  for (const bare of run.rows.filter((r) => r.bare)) {
    const weft = run.rows.find((r) => r.broker === bare.beside)!;
    assert.ok(weft.vsBare, `${weft.broker} has its ratios to ${bare.broker}`);
    assert.equal(weft.vsBare.messagesPerSecond, weft.messagesPerSecond! / bare.messagesPerSecond!);
    assert.equal(weft.vsBare.roundTrip, weft.rttMedianUs! / bare.rttMedianUs!);
  }
  for (const row of run.rows) {
    assert.equal(row.skipped, undefined, `${row.broker} skipped: ${row.skipped}`);
    assert.deepEqual(row.consumed, [200, 200], `${row.broker}: the warm-up and the measured run each consumed all 200`);
    assert.ok(row.messagesPerSecond! > 0, row.broker);
    assert.ok(row.rttMedianUs! > 0 && row.rttP90Us! >= row.rttMedianUs!, `${row.broker}: median ${row.rttMedianUs}, p90 ${row.rttP90Us}`);
  }
});

test('weft bench broker: a server that is not reachable is a skipped row; the password stays hidden', () => {
  const run = benchBroker('--brokers', 'memory,amqp://guest:secret@127.0.0.1:1');
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^memory\s+[\d,]+\s+100%/m);
  assert.doesNotMatch(run.stdout, /not weft/, 'no bare row beside a skipped server');
  assert.match(run.stdout, /^amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1 \(skipped\)\s+-/m);
  assert.match(run.stdout, /skipped: could not connect to RabbitMQ/);
  assert.doesNotMatch(run.stdout, /secret/);
});
