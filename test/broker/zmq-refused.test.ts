// openBroker('zmq://…') is refused: ZeroMQ has no broker to keep the transport contract
// (transport.ts), so weft says why and what to use instead rather than pretend (issue 15).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBroker } from '../../src/index.js';

test('openBroker refuses zmq:// and zmq+tcp:// with a TypeError that says why and what to use instead', async () => {
  for (const url of ['zmq://127.0.0.1:5555', 'zmq+tcp://127.0.0.1:5555']) {
    await assert.rejects(openBroker(url), (error: Error) => {
      assert.ok(error instanceof TypeError, url);
      assert.match(error.message, /ZeroMQ is a socket library, not a broker, so it cannot keep the broker contract/);
      assert.match(error.message, /no acknowledgement, nack or redelivery/);
      assert.match(error.message, /serve\(\)\/connect\(\) over zmq\+tcp:\/\//);
      assert.match(error.message, /amqp:\/\/ \(RabbitMQ\), redis:\/\/, nats:\/\/ \(JetStream\), weft:\/\//);
      return true;
    });
  }
});

test('zmq is not listed among the broker schemes, and the others open as before', async () => {
  await assert.rejects(openBroker('nope://x'), (error: Error) => {
    const schemes = /one of the schemes (.*), got/.exec(error.message)?.[1];
    assert.ok(schemes?.includes('amqp'), error.message);
    assert.ok(!schemes!.includes('zmq'), error.message);
    return true;
  });
  const broker = await openBroker('memory://zmq-refused-test');
  await broker.close();
});
