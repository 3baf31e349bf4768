// Broker.onInterrupted: a Redis or NATS client whose connection drops and comes back by itself
// says so, because what was sent to its inboxes meanwhile is gone (the broker-backed cluster
// then looks up its tasks in flight in the result store). A TcpRelay in front of the server
// cuts the connections; the relay keeps accepting, so the client reconnects through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBroker } from '../../src/index.js';
import { ConnectionClosedError } from '../../src/core/errors.js';
import { TcpRelay } from './transport-helpers.js';

const servers: [string, number][] = [['redis', 6379], ['nats', 4222]];

for (const [kind, port] of servers) {
  test(`${kind}: a connection that drops and comes back reports onInterrupted once, and its inbox hears what is sent afterwards`, { timeout: 20_000 }, async () => {
    const relay = await TcpRelay.start(port);
    const client = await openBroker(`${kind}://127.0.0.1:${relay.port}`);
    const sender = await openBroker(`${kind}://127.0.0.1:${port}`);
    try {
      const heard: unknown[] = [];
      let wake: (() => void) | undefined;
      const inbox = await client.openInbox((body) => { heard.push(body); wake?.(); });
      const interruptions: Error[] = [];
      const interrupted = new Promise<void>((resolve) => client.onInterrupted((error) => { interruptions.push(error); resolve(); }));
      let lost = false;
      void client.closed.then(() => { lost = true; });
      relay.cut();
      await Promise.race([interrupted, new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 10 s waiting for onInterrupted')), 10_000))]);
      assert.equal(interruptions.length, 1);
      assert.ok(interruptions[0] instanceof ConnectionClosedError);
      assert.match(interruptions[0]!.message, /dropped and came back/);
      assert.equal(lost, false, 'the client was not closed: it came back');
      // Back and listening: a body sent now arrives (the sender retries until the resubscription took).
      const deadline = Date.now() + 5000;
      while (heard.length === 0) {
        if (Date.now() > deadline) throw new Error('timed out after 5 s waiting for a body sent after the interruption');
        await sender.send(inbox.address, 'after');
        await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 100); });
      }
      assert.equal(heard[0], 'after');
    } finally {
      await client.close();
      await sender.close();
      await relay.shut();
    }
  });
}
