// Plain ZeroMQ peers for the zmq+tcp:// tests, written from docs/protocol.md alone: frames are
// built and parsed here and the authkey handshake is computed here, with node:crypto; nothing of
// weft's client is used. A REQ peer is what the articles' word count client is; a DEALER can send
// what a weft client never would.
import { createHmac, randomBytes } from 'node:crypto';
import * as zmq from 'zeromq';

export const HELLO = 0x01, AUTH = 0x02, WELCOME = 0x03, REJECT = 0x04, PING = 0x05, GOODBYE = 0x06, FAULT = 0x07;
export const CALL = 0x10, DESCRIBE = 0x18, RESULT = 0x12, ERROR = 0x13, YIELD = 0x14;

export interface Frame { type: number; id: number; body: Buffer }

/** One frame: u32 length (6 + body), version 1, type, u32 id, body. */
export function frame(type: number, id = 0, body: Uint8Array = Buffer.alloc(0), version = 1): Buffer {
  const out = Buffer.alloc(10 + body.length);
  out.writeUInt32BE(6 + body.length, 0);
  out[4] = version;
  out[5] = type;
  out.writeUInt32BE(id, 6);
  out.set(body, 10);
  return out;
}

/** The frames of a message: each part holds one or more whole frames. */
export function frames(parts: Buffer[]): Frame[] {
  const out: Frame[] = [];
  for (const part of parts) {
    for (let at = 0; at < part.length;) {
      const length = part.readUInt32BE(at);
      out.push({ type: part[at + 5]!, id: part.readUInt32BE(at + 6), body: part.subarray(at + 10, at + 4 + length) });
      at += 4 + length;
    }
  }
  return out;
}

const mac = (key: string, label: string, a: Buffer, b: Buffer) => createHmac('sha256', key).update(label).update(a).update(b).digest();

type Peer = zmq.Request | zmq.Dealer;

/** A plain socket connected to `url` (zmq+tcp://...), whose receive() gives up after `timeoutMs`. */
export function plainSocket<S extends Peer>(kind: new (options?: object) => S, url: string, timeoutMs = 3000): S {
  const socket = new kind({ receiveTimeout: timeoutMs, linger: 0 });
  socket.connect(url.replace(/^zmq\+tcp:/, 'tcp:'));
  return socket;
}

/** Sends `parts` and returns the frames of the answer; says what it waited for when none comes. */
export async function ask(socket: Peer, parts: Buffer[], what: string): Promise<Frame[]> {
  await socket.send(parts);
  return answer(socket, what);
}

/** The next message's frames; a DEALER skips the server's heartbeat PINGs (a REQ is never sent one unasked). */
export async function answer(socket: Peer, what: string): Promise<Frame[]> {
  for (;;) {
    let got: Frame[];
    try {
      got = frames(await socket.receive());
    } catch (error) {
      throw new Error(`no answer to ${what} within the socket's receive timeout`, { cause: error });
    }
    if (!(socket instanceof zmq.Dealer) || got.some((f) => f.type !== PING)) return got;
  }
}

/**
 * The handshake by hand: an empty HELLO, the server's nonce back, AUTH with our proof, then
 * WELCOME (whose proof is checked here) or REJECT. Resolves with the answer to AUTH.
 */
export async function handshake(socket: Peer, authkey: string, maxBody = 1 << 20): Promise<Frame> {
  const [hello] = await ask(socket, [frame(HELLO)], 'HELLO');
  if (hello?.type !== HELLO || hello.body.length !== 32) throw new Error(`expected HELLO with a 32-byte nonce, got ${JSON.stringify(hello)}`);
  const clientNonce = randomBytes(32);
  const limit = Buffer.alloc(4);
  limit.writeUInt32BE(maxBody);
  const auth = Buffer.concat([clientNonce, mac(authkey, 'weft-v1-client', hello.body, clientNonce), limit]);
  const [reply] = await ask(socket, [frame(AUTH, 0, auth)], 'AUTH');
  if (reply?.type === WELCOME && !reply.body.subarray(0, 32).equals(mac(authkey, 'weft-v1-server', clientNonce, hello.body))) {
    throw new Error('the server sent WELCOME without proving it knows the authkey');
  }
  return reply!;
}
