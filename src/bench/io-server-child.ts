/**
 * The HTTP server of `weft bench io` in a child process, so that it does not share the client's
 * event loop: `node io-server-child.js <latency ms>`. It reports its port over IPC and exits when
 * the parent disconnects.
 */
import type { AddressInfo } from 'node:net';
import { listenIo } from './io-server.js';

async function main(): Promise<void> {
  const server = await listenIo(Number(process.argv[2]));
  process.send!((server.address() as AddressInfo).port);
  process.on('disconnect', () => process.exit(0));
}

if (process.send) void main();
