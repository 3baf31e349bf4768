// The broker conformance suite through openBroker() against librdkafka's mock Kafka cluster
// (scripts/kafka-mock-cluster.c, built into build/ by this test when missing), started for this
// file and stopped after it. The mock speaks the Kafka protocol but is not a Kafka server: what
// it lacks and how it differs is in docs/brokers.md.
//
// redeliverAfter (= the group session timeout) is 4 s: the mock times a member out while it
// waits out a new group's 3 s first-join delay when the session timeout is shorter. Most of each
// test's time is that delay (every test uses fresh queues, so fresh groups): the tests run
// concurrently, each on its own queues and clients.
import { after, describe } from 'node:test';
import { buildKafkaMock, startKafkaMock } from '../../src/bench/kafka-mock.js';
import { brokerConformance } from './conformance.js';

buildKafkaMock();
const mock = await startKafkaMock();
after(() => mock.stop());

describe('kafka on librdkafka\'s mock cluster', { concurrency: 8 }, () => {
  brokerConformance('kafka', `${mock.url}?redeliverAfter=4000`, {
    // A member that dies is noticed after the session timeout (4 s, checked every second), then
    // the mock waits 3 s for the others to rejoin before it hands the partitions out again.
    crashRedeliveryMs: 15_000,
    // Its own mock cluster, killed under the client.
    loss: { server: () => startKafkaMock(), withinMs: 15_000 },
    unorderedQueues: 'a queue is a topic of several partitions; Kafka keeps order within a partition only',
    // Queues live as long as the mock cluster (it has no DeleteTopics): nothing to remove.
  });
});
