// The broker conformance suite through openBroker() against fauxqs, an SQS emulator (in
// memory, in JavaScript) started in this process on a free port: every test runs, none is
// skipped. It is not AWS (docs/brokers.md says what differs): on AWS the queueStats test would
// meet approximate figures (updated within about a minute), a standard queue may hand a message
// out twice now and then, and ListQueues may list a new subscription late. SQS counts
// visibility timeouts in whole seconds, so a crashed consumer's message comes back after 1 s
// here (redeliverAfter=400 rounds up). The server that goes away is the emulator behind a relay.
import { removeQueues } from '../../src/broker/remove-queues.js';
import { brokerConformance } from './conformance.js';
import { startEmulator } from './sqs-emulator.js';

const emulator = await startEmulator();
const url = `${emulator.url}?redeliverAfter=400`;
brokerConformance('sqs', url, {
  loss: { port: emulator.port, withinMs: 10_000 },
  crashRedeliveryMs: 5000,
  removeQueues: (names) => removeQueues(url, names),
});
