import type { FrameHandler } from './frame.js';
import type { PeerLimits } from './handshake.js';

/**
 * The seam between RPC and the transport under it: an authenticated channel of weft frames
 * (docs/protocol.md §1), two-way, that runs the authkey handshake before it delivers anything.
 * RpcSession (rpc/session.ts) needs no more than this. Two transports provide it:
 *
 *   Connection (connection.ts)   one TCP or TLS socket carrying a stream of frames
 *   ZmqLink (zmq/link.ts)        one ZeroMQ peer, each message part whole frames (protocol.md §10)
 *
 * Both promise the same: frames of type 0x10 and up reach the handler in the order they were
 * sent, after the handshake; heartbeats, size limits and FAULT on a malformed frame are the
 * link's; every way it ends reports exactly one error to the onClose listeners.
 */
export interface FramedLink {
  readonly isOpen: boolean;
  /** Why the link closed, once it has. */
  readonly closeError: Error | undefined;
  /** Where the peer is, for messages. */
  readonly remoteAddress: string;
  /** This side's own limits. */
  readonly limits: PeerLimits;
  /** What the peer announced in the handshake. */
  readonly peerLimits: PeerLimits;
  /** Starts delivering frames (types 0x10 and up) to `handler`, beginning with any that already arrived. */
  start(handler: FrameHandler): void;
  /** Calls `listener(error)` once when the link closes, at once if it has. */
  onClose(listener: (error: Error) => void): void;
  /** Queues a complete frame (header and body, frame.ts); throws once the link is closed. */
  send(frame: Buffer): void;
  /** Says GOODBYE with `reason` and closes. Idempotent. */
  close(reason?: string): void;
  /** Resolves once the link is closed. */
  whenClosed(): Promise<Error>;
}
