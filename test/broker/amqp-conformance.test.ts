// The broker conformance suite through openBroker() against the RabbitMQ on 127.0.0.1:5672.
// RabbitMQ requeues a dead consumer's messages as soon as its connection drops, so the crash
// test needs no redeliverAfter: it is given 3 s only as an upper bound.
import { removeQueues, removeTopics } from '../../src/broker/remove-queues.js';
import { brokerConformance } from './conformance.js';

const url = 'amqp://guest:guest@127.0.0.1:5672';
brokerConformance('amqp', url, {
  loss: { port: 5672, withinMs: 3000 },
  crashRedeliveryMs: 3000,
  removeQueues: (names) => removeQueues(url, names),
  removeTopics: (names) => removeTopics(url, names),
});
