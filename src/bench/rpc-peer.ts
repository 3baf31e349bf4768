/**
 * The far side of `weft bench rpc`, run in a child process so that client and server each have
 * a core: a bare echo socket (the floor), a newline-delimited JSON-over-TCP RPC server (the
 * plain baseline), a weft RPC server, and the ZeroMQ servers of rpc-zmq.ts (weft over
 * zmq+tcp://, bare REP and ROUTER echoes), all exposing the same `echo`. It reports their ports
 * over IPC and exits when the parent disconnects.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { serve } from '../remote/rpc.js';
import { BENCH_AUTHKEY } from './rpc-shared.js';
import { zmqPeers, type ZmqPorts } from './rpc-zmq.js';

export interface PeerPorts {
  bare: number;
  json: number;
  weft: number;
  /** The ZeroMQ servers, or why there are none (the zeromq package is not installed). */
  zmq: ZmqPorts | string;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    resolve(typeof address === 'object' && address ? address.port : 0);
  }));
}

/** Echoes every byte back: a ping-pong client sees the kernel's and the event loop's cost, nothing more. */
function bareEcho(): Server {
  return createServer((socket: Socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('error', () => {});
  });
}

/** `{"id":1,"method":"echo","args":[x]}\n` in, `{"id":1,"result":x}\n` out. */
function jsonRpc(methods: Record<string, (...args: any[]) => unknown>): Server {
  return createServer((socket: Socket) => {
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    let buffered = '';
    socket.on('data', (text: string) => {
      buffered += text;
      let newline: number;
      let out = '';
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const request = JSON.parse(buffered.slice(0, newline)) as { id: number; method: string; args: unknown[] };
        buffered = buffered.slice(newline + 1);
        out += `${JSON.stringify({ id: request.id, result: methods[request.method]!(...request.args) })}\n`;
      }
      if (out) socket.write(out);
    });
    socket.on('error', () => {});
  });
}

const methods = { echo: (value: unknown) => value };

async function main(): Promise<void> {
  const weft = await serve({ authkey: BENCH_AUTHKEY, expose: methods, maxInFlight: 4096 });
  const ports: PeerPorts = { bare: await listen(bareEcho()), json: await listen(jsonRpc(methods)), weft: weft.port, zmq: await zmqPeers(methods) };
  process.send!(ports);
  process.on('disconnect', () => process.exit(0));
}

if (process.send) void main();
