// Issue 11 on the broker path: anyone who may publish to a queue can hand a weft consumer crafted
// bytes. They are published here through an adapter's own transport, below weft's encoder.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { ProtocolError } from '../../src/index.js';
import { openBroker } from '../../src/broker/open.js';
import { MemoryTransport } from '../../src/broker/memory.js';
import { openRedisTransport } from '../../src/broker/redis/transport.js';
import type { BrokerTransport } from '../../src/broker/transport.js';
import { nestedArrays, nestedErrors, nestedMaps, pollutingMap } from '../remote/hostile-bodies.js';

const REDIS_URL = process.env.WEFT_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

const bodies: [string, Buffer, RegExp][] = [
  ['4,000 nested Errors', nestedErrors(4000), /nests errors deeper than 32 levels/],
  ['100,000 nested arrays', nestedArrays(100_000), /nests deeper than 512 levels/],
  ['100,000 nested maps', nestedMaps(100_000), /nests deeper than 512 levels/],
  ['constructor.prototype', pollutingMap('constructor', 'prototype'), /map key "constructor" holding a map/],
];

/**
 * Publishes every hostile body, then a good one through weft; the consumer must report each
 * hostile body to onError as a ProtocolError, quickly, and go on to the good one.
 */
async function hostileThenGood(url: string, raw: BrokerTransport, queue: string): Promise<void> {
  const broker = await openBroker(url);
  try {
    const errors: Error[] = [];
    const handled: unknown[] = [];
    let wake: () => void = () => {};
    const done = () => handled.length === 1 && errors.length === bodies.length;
    await broker.consume(queue, (message) => {
      handled.push(message.body);
      wake();
    }, {
      onError: (error) => {
        errors.push(error);
        wake();
      },
    });
    const started = performance.now();
    for (const [, body] of bodies) await raw.publish(queue, body, {});
    await broker.publish(queue, { fine: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`waited 5 s for ${bodies.length} errors and 1 message; got ${errors.length} errors (${errors.map((e) => e.message).join('; ')}) and ${handled.length} messages`)), 5000);
      wake = () => {
        if (!done()) return;
        clearTimeout(timer);
        resolve();
      };
      wake();
    });
    const ms = performance.now() - started;
    assert.deepEqual(handled, [{ fine: true }]);
    bodies.forEach(([what, , message], i) => {
      assert.ok(errors[i] instanceof ProtocolError, `${what}: ${String(errors[i])}`);
      assert.match(errors[i]!.message, message, what);
    });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // Before the fix the first body alone blocked the consumer's process for 139 s.
    assert.ok(ms < 2000, `the consumer got through in ${ms.toFixed(0)} ms`);
  } finally {
    await broker.close();
  }
}

describe('a weft consumer fed crafted bytes by a publisher', () => {
  it('memory broker: each body is a ProtocolError to onError, at once, and the consumer goes on', async () => {
    const name = `hostile-${randomUUID()}`;
    const raw = new MemoryTransport(name);
    try {
      await hostileThenGood(`memory://${name}`, raw, 'q');
    } finally {
      await raw.close();
    }
  });

  const admin = new Redis(REDIS_URL);
  const queue = `test-hostile-${randomUUID()}`;
  after(async () => {
    await admin.del(`weft:q:${queue}`);
    await admin.quit();
  });

  it('Redis: each body is a ProtocolError to onError, at once, and the consumer goes on', async () => {
    const raw = await openRedisTransport(new URL(REDIS_URL), { redeliverAfter: 30_000, connectTimeout: 2000 });
    try {
      await hostileThenGood(REDIS_URL, raw, queue);
    } finally {
      await raw.close();
    }
  });
});
