/**
 * The server side of `weft bench wordcount`'s rpc row, run in a child process so that it has a
 * core of its own: a weft RPC server exposing countWords. It reports its port over IPC and
 * exits when the parent disconnects. The authkey comes from the parent in WEFT_BENCH_AUTHKEY.
 */
import { serve } from '../remote/rpc.js';
import { countWords } from './tasks.js';

async function main(): Promise<void> {
  // Every chunk is sent at once; let them all be in flight.
  const server = await serve({ authkey: process.env.WEFT_BENCH_AUTHKEY!, expose: { countWords }, maxInFlight: 4096 });
  process.send!(server.port);
  process.on('disconnect', () => process.exit(0));
}

if (process.send) void main();
