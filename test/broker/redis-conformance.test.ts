// The broker conformance suite through openBroker() against the Redis on 127.0.0.1:6379
// (or WEFT_REDIS_URL). Redis does not notice a dead consumer: its messages come back once they
// sat unsettled for redeliverAfter (400 ms here) and another consumer's claim round runs.
import { removeQueues } from '../../src/broker/remove-queues.js';
import { brokerConformance } from './conformance.js';

const url = new URL(process.env.WEFT_REDIS_URL ?? 'redis://127.0.0.1:6379/0');
url.searchParams.set('redeliverAfter', '400');
brokerConformance('redis', url.href, {
  loss: { port: Number(url.port || 6379), withinMs: 5000 },
  crashRedeliveryMs: 3000,
  removeQueues: (names) => removeQueues(url, names),
});
