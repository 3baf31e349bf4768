// The broker conformance suite through openBroker() against fauxqs, an SQS emulator (in
// memory, in JavaScript) started in this process on a free port. It is not AWS: see
// docs/brokers.md for what differs. SQS counts visibility timeouts in whole seconds, so a
// crashed consumer's message comes back after 1 s here (redeliverAfter=400 rounds up).
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
