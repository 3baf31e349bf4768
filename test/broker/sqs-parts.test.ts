// The SQS adapter's parts that need no server: its URLs, the queue names it maps weft's names
// to, the batching of calls that come together, and the message attributes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSqsUrl } from '../../src/broker/sqs/url.js';
import {
  escapeName, isInboxName, newInboxName, newSubscriptionName, sqsQueueName, topicPrefix,
} from '../../src/broker/sqs/names.js';
import { Batcher } from '../../src/broker/sqs/batcher.js';
import { MAX_MESSAGE_BYTES, MAX_PAYLOAD, decode, outgoing } from '../../src/broker/sqs/attributes.js';
import { visibilitySeconds } from '../../src/broker/sqs/holds.js';

const noEnv = {};

describe('sqs:// URLs', () => {
  test('an emulator over http: endpoint, region, dummy credentials, the path as the prefix', () => {
    const settings = parseSqsUrl(new URL('sqs://127.0.0.1:4566/myapp-?region=eu-west-1&maxReceiveCount=3'), noEnv);
    assert.deepEqual(settings, {
      endpoint: 'http://127.0.0.1:4566', region: 'eu-west-1', credentials: { accessKeyId: 'weft', secretAccessKey: 'weft' },
      prefix: 'myapp-', maxReceiveCount: 3, aws: false, display: 'http://127.0.0.1:4566',
    });
  });

  test('sqss:// is https; credentials from the URL, URL-encoded; the default prefix and redrive', () => {
    const settings = parseSqsUrl(new URL('sqss://AKID:se%2Fcret@sqs.internal:8443'), noEnv);
    assert.equal(settings.endpoint, 'https://sqs.internal:8443');
    assert.deepEqual(settings.credentials, { accessKeyId: 'AKID', secretAccessKey: 'se/cret' });
    assert.equal(settings.prefix, 'weft-');
    assert.equal(settings.maxReceiveCount, 10);
  });

  test('AWS: the region from the host (https) or the host as a region (the SDK finds the endpoint); the SDK\'s own credentials', () => {
    const byHost = parseSqsUrl(new URL('sqs://sqs.eu-west-1.amazonaws.com/jobs-'), noEnv);
    assert.deepEqual([byHost.endpoint, byHost.region, byHost.aws, byHost.credentials], ['https://sqs.eu-west-1.amazonaws.com', 'eu-west-1', true, undefined]);
    const byRegion = parseSqsUrl(new URL('sqs://ap-southeast-2/jobs-'), noEnv);
    assert.deepEqual([byRegion.endpoint, byRegion.region, byRegion.aws, byRegion.display], [undefined, 'ap-southeast-2', true, 'AWS SQS in ap-southeast-2']);
  });

  test('the region from the environment, else us-east-1; an emulator uses the environment\'s credentials when there are some', () => {
    assert.equal(parseSqsUrl(new URL('sqs://localhost:4566'), { AWS_REGION: 'eu-north-1' }).region, 'eu-north-1');
    assert.equal(parseSqsUrl(new URL('sqs://localhost:4566'), noEnv).region, 'us-east-1');
    assert.equal(parseSqsUrl(new URL('sqs://localhost:4566'), { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' }).credentials, undefined);
  });

  test('bad URLs are refused with TypeError or RangeError saying what was expected', () => {
    assert.throws(() => parseSqsUrl(new URL('sqs://localhost:4566/has.dot'), noEnv), /Expected `url` to be a queue-name prefix \(its path\) of 1 to 40 letters/);
    assert.throws(() => parseSqsUrl(new URL(`sqs://localhost:4566/${'p'.repeat(41)}`), noEnv), TypeError);
    assert.throws(() => parseSqsUrl(new URL('sqs://localhost:4566/?regoin=x'), noEnv), /\?regoin= in/);
    assert.throws(() => parseSqsUrl(new URL('sqs://localhost:4566/?region=Mars'), noEnv), /Expected `region \(in the URL\)` to be an AWS region/);
    assert.throws(() => parseSqsUrl(new URL('sqs://localhost:4566/?maxReceiveCount=-1'), noEnv), RangeError);
    assert.throws(() => parseSqsUrl(new URL('sqs://key@localhost:4566/'), noEnv), /both, or neither/);
    assert.throws(() => parseSqsUrl(new URL('sqs:///path'), noEnv), TypeError);
  });

  test('a refused URL does not show its secret', () => {
    assert.throws(() => parseSqsUrl(new URL('sqs://key:hunter2@localhost:4566/?bad=1'), noEnv), (error: Error) => !error.message.includes('hunter2'));
  });
});

describe('SQS queue names', () => {
  const valid = (name: string) => /^[A-Za-z0-9_-]{1,80}$/.test(name.replace(/\.fifo$/, '')) && name.length <= 80;

  test('letters, digits and - stay; every other byte is _ and two hex digits; the prefix goes first', () => {
    assert.equal(sqsQueueName('weft-', 'jobs'), 'weft-jobs');
    assert.equal(escapeName('a.b c_d'), 'a_2eb_20c_5fd');
    assert.equal(escapeName('✓'), '_e2_9c_93');
  });

  test('distinct weft names give distinct valid SQS names, long ones hashed within 80 characters', () => {
    const names = ['a.b', 'a_b', 'a_2eb', 'a b', '*', '>', 'ünïcødé ✓', '../etc/passwd', 'x'.repeat(300), `${'x'.repeat(300)}y`, '_'.repeat(40), `${'_'.repeat(40)}.`];
    for (const prefix of ['weft-', 'p'.repeat(40), '']) {
      const mapped = names.map((name) => sqsQueueName(prefix, name));
      assert.equal(new Set(mapped).size, names.length, `distinct under prefix ${JSON.stringify(prefix)}: ${mapped.join(' ')}`);
      for (const name of mapped) assert.ok(valid(name), name);
      for (const name of mapped) assert.ok(!name.slice(prefix.length).includes('__'), `no "__" in ${name}`);
    }
    assert.match(sqsQueueName('weft-', 'x'.repeat(300)), /^weft-x+_h[0-9a-f]{32}$/);
  });

  test('inboxes and subscriptions are FIFO queues apart from every queue; one topic\'s listing finds no other topic\'s', () => {
    const inbox = newInboxName('weft-');
    assert.ok(valid(inbox) && inbox.endsWith('.fifo') && isInboxName(inbox), inbox);
    assert.ok(!isInboxName(sqsQueueName('weft-', inbox)));
    assert.ok(!isInboxName('weft-__i0123.fifo') && !isInboxName('https://evil/weft-__i0123456789abcdef.fifo'));
    const topics = ['a', 'a_', 'a.b', 'ab', 'weft.control', 't'.repeat(200)];
    for (const prefix of ['weft-', 'p'.repeat(40)]) {
      for (const topic of topics) {
        const subscription = newSubscriptionName(prefix, topic);
        assert.ok(valid(subscription), subscription);
        assert.ok(subscription.startsWith(topicPrefix(prefix, topic)));
        for (const other of topics.filter((t) => t !== topic)) assert.ok(!subscription.startsWith(topicPrefix(prefix, other)), `${topic} vs ${other}`);
      }
    }
  });
});

describe('SQS batches', () => {
  test('calls of one turn go out together, 10 at most a batch, and settle each with its own outcome', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number>({
      maxInFlight: 8,
      run: async (entries) => {
        batches.push(entries);
        return entries.map((n) => (n === 13 ? new Error('no 13') : undefined));
      },
    });
    const outcomes = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => batcher.add(i)));
    assert.deepEqual(batches.map((b) => b.length), [10, 10, 5]);
    assert.deepEqual(outcomes.map((o, i) => o.status === 'rejected' ? i : -1).filter((i) => i >= 0), [13]);
    assert.ok(batcher.idle);
  });

  test('a byte budget cuts batches; one request at a time keeps the order; what comes meanwhile waits for the next batch', async () => {
    const batches: string[][] = [];
    let out = 0;
    let most = 0;
    const batcher = new Batcher<string>({
      maxInFlight: 1,
      bytes: (entry) => entry.length,
      maxBytes: 10,
      run: async (entries) => {
        most = Math.max(most, ++out);
        batches.push(entries);
        await new Promise((resolve) => setImmediate(resolve));
        out--;
        return [];
      },
    });
    const first = ['aaaa', 'bbbb', 'cccc', 'dddddddddddd', 'e'].map((entry) => batcher.add(entry));
    await new Promise((resolve) => setImmediate(resolve));
    const later = batcher.add('f');
    await Promise.all([...first, later]);
    assert.deepEqual(batches, [['aaaa', 'bbbb'], ['cccc'], ['dddddddddddd'], ['e', 'f']]);
    assert.equal(most, 1);
  });

  test('a failed request fails every entry of its batch, and the batcher goes on', async () => {
    let calls = 0;
    const batcher = new Batcher<number>({ maxInFlight: 2, run: async () => (++calls === 1 ? Promise.reject(new Error('no answer')) : []) });
    await assert.rejects(Promise.all([batcher.add(1), batcher.add(2)]), /no answer/);
    await batcher.add(3);
    await batcher.whenIdle();
  });
});

describe('SQS message attributes', () => {
  test('weft\'s payload travels as base64 with its mark and properties; headers as one JSON attribute', () => {
    const payload = new Uint8Array([0, 1, 254, 255]);
    const message = outgoing(payload, { replyTo: 'r é', correlationId: 'c-1', headers: { trace: 'x', ['__proto__']: 'p', odd: '\uFFFF' } });
    assert.equal(message.body, 'AAH+/w==');
    assert.deepEqual(Object.keys(message.attributes), ['Content-Type', 'Weft-Reply-To', 'Weft-Correlation-Id', 'Weft-Headers']);
    assert.doesNotMatch(message.attributes['Weft-Headers']!.StringValue!, /\uFFFF/);
    const back = decode({ Body: message.body, MessageAttributes: message.attributes });
    assert.deepEqual([...back.payload], [0, 1, 254, 255]);
    assert.equal(back.contentType, 'application/x-msgpack');
    assert.deepEqual(back.properties, { replyTo: 'r é', correlationId: 'c-1' });
    assert.equal(back.headers.odd, '\uFFFF');
    assert.equal(Object.getOwnPropertyDescriptor(back.headers, '__proto__')?.value, 'p');
    assert.equal(Object.getPrototypeOf(back.headers), Object.prototype);
  });

  test('another program\'s message is its body\'s UTF-8; a body marked as weft\'s that is not base64 is refused by its content type', () => {
    const foreign = decode({ Body: 'A', MessageAttributes: { Kind: { DataType: 'String', StringValue: 'text' } } });
    assert.deepEqual([...foreign.payload], [0x41]);
    assert.equal(foreign.contentType, undefined);
    assert.deepEqual(foreign.headers, { Kind: 'text' });
    const fake = decode({ Body: 'not base64!', MessageAttributes: { 'content-type': { DataType: 'String', StringValue: 'application/x-msgpack' } } });
    assert.equal(fake.contentType, 'application/x-msgpack (but its body is not base64)');
  });

  test('the largest payload the transport announces fits SQS\'s 256 KiB with room for attributes; visibility is whole seconds', () => {
    const message = outgoing(new Uint8Array(MAX_PAYLOAD), { correlationId: 'c'.repeat(100), replyTo: 'weft:inbox:weft-__i0123456789abcdef.fifo' });
    assert.ok(message.bytes <= MAX_MESSAGE_BYTES, `${message.bytes}`);
    assert.ok(outgoing(new Uint8Array(MAX_PAYLOAD + 3000), {}).bytes > MAX_MESSAGE_BYTES);
    assert.deepEqual([400, 1000, 1001, 30_000, 1e9].map(visibilitySeconds), [1, 1, 2, 30, 43_200]);
  });
});
