import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuthenticationError, ProtocolError } from '../core/errors.js';
import { describe } from '../core/validate.js';
import { FrameType } from './frame.js';

/**
 * The authkey handshake: HMAC-SHA256 challenge–response in both directions, as
 * multiprocessing.connection does, before either side reads anything else.
 *
 *   server ── HELLO   nonceS ─────────────────────────────────────────▶ client
 *   server ◀─ AUTH    nonceC, HMAC(k, "weft-v1-client" ‖ nonceS ‖ nonceC), limits ── client
 *   server ── WELCOME HMAC(k, "weft-v1-server" ‖ nonceC ‖ nonceS), limits ──────▶ client
 *            (or REJECT "reason", then close)
 *
 * The client proves itself first, so a server never answers a challenge for someone who has not
 * proved the key; the labels make a client's proof useless as a server's and vice versa. The
 * key itself never crosses the wire. Proofs are compared with timingSafeEqual.
 */
export const NONCE_SIZE = 32;
export const MAC_SIZE = 32;
export const HELLO_SIZE = NONCE_SIZE;
export const AUTH_SIZE = NONCE_SIZE + MAC_SIZE + 4;
export const WELCOME_SIZE = MAC_SIZE + 8;
/** Largest body accepted before the handshake ends: a REJECT reason, at most. */
export const HANDSHAKE_MAX_BODY = 1024;

const CLIENT_LABEL = Buffer.from('weft-v1-client');
const SERVER_LABEL = Buffer.from('weft-v1-server');

/** An authkey as bytes. Strings are UTF-8. */
export function authkeyBytes(authkey: unknown, name = 'authkey'): Buffer {
  if (typeof authkey === 'string' && authkey.length > 0) return Buffer.from(authkey, 'utf8');
  if (authkey instanceof Uint8Array && authkey.length > 0) return Buffer.from(authkey);
  throw new TypeError(`Expected \`${name}\` to be a non-empty string or Uint8Array, got ${describe(authkey)}`);
}

export function nonce(): Buffer {
  return randomBytes(NONCE_SIZE);
}

function mac(key: Buffer, label: Buffer, first: Buffer, second: Buffer): Buffer {
  return createHmac('sha256', key).update(label).update(first).update(second).digest();
}

function matches(expected: Buffer, got: Buffer): boolean {
  return expected.length === got.length && timingSafeEqual(expected, got);
}

export interface PeerLimits {
  /** Largest frame body the peer accepts. */
  maxFrameSize: number;
  /** Most calls the peer lets one connection have in flight (servers announce it; 0 from clients). */
  maxInFlight: number;
}

export function authBody(key: Buffer, serverNonce: Buffer, clientNonce: Buffer, maxFrameSize: number): Buffer {
  const body = Buffer.allocUnsafe(AUTH_SIZE);
  clientNonce.copy(body, 0);
  mac(key, CLIENT_LABEL, serverNonce, clientNonce).copy(body, NONCE_SIZE);
  body.writeUInt32BE(maxFrameSize, NONCE_SIZE + MAC_SIZE);
  return body;
}

/** Server side: checks an AUTH body; returns the client's nonce and limits, or undefined when the proof is wrong. */
export function checkAuth(key: Buffer, serverNonce: Buffer, body: Buffer): { clientNonce: Buffer; limits: PeerLimits } | undefined {
  if (body.length !== AUTH_SIZE) throw new ProtocolError(`an AUTH frame body must be ${AUTH_SIZE} bytes, got ${body.length}`);
  const clientNonce = Buffer.from(body.subarray(0, NONCE_SIZE));
  const proof = body.subarray(NONCE_SIZE, NONCE_SIZE + MAC_SIZE);
  if (!matches(mac(key, CLIENT_LABEL, serverNonce, clientNonce), proof)) return undefined;
  return { clientNonce, limits: { maxFrameSize: body.readUInt32BE(NONCE_SIZE + MAC_SIZE), maxInFlight: 0 } };
}

export function welcomeBody(key: Buffer, clientNonce: Buffer, serverNonce: Buffer, limits: PeerLimits): Buffer {
  const body = Buffer.allocUnsafe(WELCOME_SIZE);
  mac(key, SERVER_LABEL, clientNonce, serverNonce).copy(body, 0);
  body.writeUInt32BE(limits.maxFrameSize, MAC_SIZE);
  body.writeUInt32BE(limits.maxInFlight, MAC_SIZE + 4);
  return body;
}

/** Client side: checks a WELCOME body; returns the server's limits, or undefined when its proof is wrong. */
export function checkWelcome(key: Buffer, clientNonce: Buffer, serverNonce: Buffer, body: Buffer): PeerLimits | undefined {
  if (body.length !== WELCOME_SIZE) throw new ProtocolError(`a WELCOME frame body must be ${WELCOME_SIZE} bytes, got ${body.length}`);
  if (!matches(mac(key, SERVER_LABEL, clientNonce, serverNonce), body.subarray(0, MAC_SIZE))) return undefined;
  return { maxFrameSize: body.readUInt32BE(MAC_SIZE), maxInFlight: body.readUInt32BE(MAC_SIZE + 4) };
}

/** What a handshake machine needs from its connection. */
export interface HandshakeIO {
  send(type: number, body: Buffer): void;
  /** Ends the handshake with `error` (the connection closes). */
  fail(error: Error): void;
  /** Tells the peer it broke the protocol; returns the local error. */
  fault(message: string): Error;
  done(peer: PeerLimits): void;
  /** The peer's address, for messages. */
  peer: string;
}

interface HandshakeMachine {
  begin(): void;
  step(type: number, id: number, body: Buffer): void;
}

export function serverHandshake(key: Buffer, limits: PeerLimits, io: HandshakeIO): HandshakeMachine {
  const serverNonce = nonce();
  return {
    begin: () => io.send(FrameType.HELLO, serverNonce),
    step(type, _id, body) {
      if (type !== FrameType.AUTH) return io.fail(io.fault(`expected an AUTH frame to open the connection, got type 0x${type.toString(16)}`));
      const auth = checkAuth(key, serverNonce, body);
      if (!auth) {
        io.send(FrameType.REJECT, Buffer.from('authentication failed: the authkey does not match'));
        return io.fail(new AuthenticationError(`client ${io.peer} failed authentication: wrong authkey`));
      }
      io.send(FrameType.WELCOME, welcomeBody(key, auth.clientNonce, serverNonce, limits));
      io.done(auth.limits);
    },
  };
}

export function clientHandshake(key: Buffer, maxFrameSize: number, io: HandshakeIO): HandshakeMachine {
  const clientNonce = nonce();
  let serverNonce: Buffer | undefined;
  return {
    begin: () => {},
    step(type, _id, body) {
      if (type === FrameType.REJECT) return io.fail(new AuthenticationError(`the server refused the connection: ${reasonText(body)}`));
      if (!serverNonce) {
        if (type !== FrameType.HELLO || body.length !== HELLO_SIZE) return io.fail(io.fault('expected a HELLO frame from the server'));
        serverNonce = Buffer.from(body);
        return io.send(FrameType.AUTH, authBody(key, serverNonce, clientNonce, maxFrameSize));
      }
      if (type !== FrameType.WELCOME) return io.fail(io.fault(`expected WELCOME or REJECT, got type 0x${type.toString(16)}`));
      const peer = checkWelcome(key, clientNonce, serverNonce, body);
      if (!peer) return io.fail(new AuthenticationError('the server could not prove it knows the authkey'));
      io.done(peer);
    },
  };
}

/** A peer's UTF-8 reason, cut short and stripped of control characters before it reaches logs. */
export function reasonText(body: Buffer): string {
  const text = body.subarray(0, 512).toString('utf8').replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return text || 'no reason given';
}
