// The broker conformance suite against weft's own broker (serveBroker, `weft broker`), served
// from this process on a free port. The server sees a dead client by its connection, so a
// crashed consumer's message comes back at once.
import { after } from 'node:test';
import { serveBroker } from '../../src/broker/weft-server.js';
import { brokerConformance } from './conformance.js';

const server = await serveBroker({ port: 0, authkey: 'conformance key' });
after(() => server.close());
brokerConformance('weft', `weft://:${encodeURIComponent('conformance key')}@127.0.0.1:${server.port}`, {
  crashRedeliveryMs: 3000,
  loss: { port: server.port, withinMs: 3000 },
});
