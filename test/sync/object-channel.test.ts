import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { TimeoutError, InvalidStateError } from '../../src/index.js';
import { registerShareable } from '../../src/core/shareable.js';
import {
  createObjectServer, createParentChannel, isObjectMessage, type ObjectServerEnd,
} from '../../src/sync/object-channel.js';

/** A served object of the test's own, with a handler that serves a few methods. */
class Counter {
  total = 0;
  aborted: unknown[] = [];
}

class Detailed extends Error {
  detail = 7;
}

registerShareable({
  name: 'test:Counter',
  matches: (value) => value instanceof Counter,
  encode: () => null,
  decode: () => null,
  serve(value, method, args, signal) {
    const counter = value as Counter;
    switch (method) {
      case 'add': return (counter.total += args[0] as number);
      case 'addLater': return Promise.resolve().then(() => (counter.total += args[0] as number));
      case 'timeout': throw new TimeoutError('nothing came within 5 ms');
      case 'detailed': throw new Detailed('with a detail');
      case 'hang': return new Promise((_, reject) => signal!.addEventListener('abort', () => {
        counter.aborted.push(signal!.reason);
        reject(signal!.reason);
      }));
      default: throw new TypeError(`Counter has no method ${method}`);
    }
  },
});

interface Outcome { ok: boolean; value?: unknown; className?: string; message?: string; code?: string; causeName?: string; remoteName?: string; detail?: unknown }

describe('object channel with a forked child', { timeout: 30_000 }, () => {
  let child: ChildProcess;
  let end: ObjectServerEnd;
  const waiting = new Map<number, (outcome: Outcome) => void>();
  let tags = 0;

  function ask(obj: number, method: string, ...args: unknown[]): Promise<Outcome> {
    const tag = ++tags;
    return new Promise((resolve) => {
      waiting.set(tag, resolve);
      child.send({ t: 'ask', tag, obj, method, args });
    });
  }

  before(async () => {
    child = fork(new URL('../fixtures/object-channel-child.js', import.meta.url), { serialization: 'advanced' });
    end = createObjectServer((msg) => child.send(msg));
    await new Promise<void>((resolve) => {
      child.on('message', (msg: { t: string; tag: number } & Outcome) => {
        if (end.handleMessage(msg)) return;
        if (msg.t === 'ready') resolve();
        if (msg.t === 'outcome') waiting.get(msg.tag)!(msg);
      });
    });
  });

  after(() => {
    child.kill();
  });

  test('calls run on the parent object in order, sync and async', async () => {
    const counter = new Counter();
    const id = end.server.register(counter);
    assert.equal(end.server.register(counter), id, 'registering twice gives the same id');
    // Sent without waiting: the parent serves them in the order they were sent.
    const outcomes = await Promise.all([ask(id, 'add', 2), ask(id, 'add', 3), ask(id, 'add', 10)]);
    assert.deepEqual(outcomes.map((o) => o.value), [2, 5, 15]);
    assert.deepEqual(await ask(id, 'addLater', 5), { t: 'outcome', tag: tags, ok: true, value: 20 });
    assert.equal(counter.total, 20);
  });

  test("weft's errors come back as their own class, others as RemoteError with their properties", async () => {
    const id = end.server.register(new Counter());
    const timeout = await ask(id, 'timeout');
    assert.deepEqual([timeout.ok, timeout.className, timeout.code, timeout.causeName], [false, 'TimeoutError', 'weft:timeout', 'TimeoutError']);
    assert.equal(timeout.message, 'nothing came within 5 ms');
    const detailed = await ask(id, 'detailed');
    assert.deepEqual([detailed.className, detailed.remoteName, detailed.detail], ['RemoteError', 'Error', 7]);
    const unknown = await ask(id, 'nope');
    assert.deepEqual([unknown.className, unknown.message], ['TypeError', 'Counter has no method nope']);
  });

  test('a call to an object id never registered fails with InvalidStateError', async () => {
    const outcome = await ask(9999, 'add', 1);
    assert.equal(outcome.className, 'InvalidStateError');
    assert.match(outcome.message!, /no object with id 9999/);
  });

  test('registering an object no handler serves is a TypeError', () => {
    assert.throws(() => end.server.register({}), { name: 'TypeError', message: /Expected an object a shareable handler can serve to a child process, got an object Object/ });
  });

  test('close aborts the calls being served and refuses later ones', async () => {
    const counter = new Counter();
    const id = end.server.register(counter);
    const hanging = ask(id, 'hang');
    // The parent is serving the call once its abort listener is installed: wait for the message.
    await ask(id, 'add', 0);
    const reason = new InvalidStateError('child gone (test)');
    end.close(reason);
    const outcome = await hanging;
    assert.deepEqual([outcome.className, outcome.message], ['InvalidStateError', 'child gone (test)']);
    assert.deepEqual(counter.aborted, [reason]);
    const later = await ask(id, 'add', 1);
    assert.deepEqual([later.className, later.message], ['InvalidStateError', 'the object server is closed']);
    assert.equal(counter.total, 0);
  });
});

describe('object channel ends in one process', { timeout: 30_000 }, () => {
  test('messages of other protocols are left alone', () => {
    const { handleMessage } = createObjectServer(() => assert.fail('nothing to answer'));
    assert.equal(handleMessage({ t: 'task', id: 1 }), false);
    assert.equal(handleMessage('weft:obj-call'), false);
    assert.equal(isObjectMessage({ t: 'weft:obj-reply' }), true);
    assert.equal(createParentChannel(() => {}).handleMessage({ t: 'result' }), false);
  });

  test('closing the child end rejects pending and later calls', async () => {
    const sent: unknown[] = [];
    const end = createParentChannel((msg) => sent.push(msg));
    const pending = end.channel.call(1, 'get', []);
    assert.deepEqual(sent, [{ t: 'weft:obj-call', id: 1, obj: 1, method: 'get', args: [] }]);
    end.close(new InvalidStateError('parent gone'));
    await assert.rejects(pending, { name: 'InvalidStateError', message: 'parent gone' });
    await assert.rejects(end.channel.call(1, 'get', []), { message: 'parent gone' });
  });

  test('ends sharing a registry serve the same objects; closing one leaves the other serving', async () => {
    const replies: [string, unknown][] = [];
    const first = createObjectServer((msg) => replies.push(['first', msg.ok && msg.value]));
    const second = createObjectServer((msg) => replies.push(['second', msg.ok ? msg.value : msg.error.message]), first.server);
    assert.equal(second.server, first.server);
    const counter = new Counter();
    const id = first.server.register(counter);
    assert.equal(second.server.register(counter), id);
    first.handleMessage({ t: 'weft:obj-call', id: 1, obj: id, method: 'add', args: [1] });
    second.handleMessage({ t: 'weft:obj-call', id: 1, obj: id, method: 'add', args: [2] });
    first.close();
    second.handleMessage({ t: 'weft:obj-call', id: 2, obj: id, method: 'add', args: [3] });
    assert.deepEqual(replies, [['first', 1], ['second', 3], ['second', 6]]);
    assert.equal(first.server.size, 1);
  });

  test('a send that throws rejects the call', async () => {
    const end = createParentChannel(() => { throw new Error('channel closed'); });
    await assert.rejects(end.channel.call(1, 'get', []), { message: 'channel closed' });
  });
});
