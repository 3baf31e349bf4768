import { ProtocolError, TimeoutError } from '../core/errors.js';
import { expected } from '../core/validate.js';
import { Codec } from '../remote/codec.js';
import { dial } from '../remote/dial.js';
import { ClusterFrame, type StatusReply } from './protocol.js';

export interface StatusOptions {
  authkey: string | Uint8Array;
  /** Milliseconds to wait for the answer. @default 5000 */
  timeout?: number;
  /** Also the tasks workers run now and the last finished ones (the dashboard's lists). */
  tasks?: boolean;
}

/** Asks a cluster's scheduler for its workers and counters (what `weft status` prints). */
export async function clusterStatus(address: string, options: StatusOptions): Promise<StatusReply> {
  return ask(address, options, ClusterFrame.STATUS, options?.tasks === true ? { tasks: true } : {}, ClusterFrame.STATUS_REPLY, 'STATUS') as Promise<StatusReply>;
}

/**
 * Asks a cluster's scheduler to cancel the task future `id` a worker runs now (the dashboard's
 * revoke); true if one did. A scheduler of an earlier weft closes the connection instead.
 */
export async function clusterRevoke(address: string, id: string, options: StatusOptions): Promise<boolean> {
  const reply = await ask(address, options, ClusterFrame.REVOKE, { id }, ClusterFrame.REVOKE_REPLY, 'REVOKE') as { revoked?: unknown };
  return reply?.revoked === true;
}

/**
 * Asks a cluster's scheduler to send worker `worker` (its id in the status) nothing new; what
 * it holds finishes. True if that worker was connected.
 */
export async function clusterDrainWorker(address: string, worker: number, options: StatusOptions): Promise<boolean> {
  const reply = await ask(address, options, ClusterFrame.DRAIN_WORKER, { worker }, ClusterFrame.DRAIN_REPLY, 'DRAIN_WORKER') as { drained?: unknown };
  return reply?.drained === true;
}

/** One request on a connection of its own, its one answer, then the connection is closed. */
async function ask(address: string, options: StatusOptions, type: number, body: unknown, replyType: number, what: string): Promise<unknown> {
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object with an authkey', options));
  const timeout = options.timeout ?? 5000;
  const connection = await dial(address, { authkey: options.authkey, connectTimeout: timeout });
  const codec = new Codec();
  try {
    return await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`the scheduler at ${address} did not answer ${what} within ${timeout} ms`)), timeout);
      connection.onClose((error) => { clearTimeout(timer); reject(error); });
      connection.start((frameType, _id, reply) => {
        clearTimeout(timer);
        if (frameType !== replyType) return reject(new ProtocolError(`expected a ${what} reply, got frame type 0x${frameType.toString(16)}`));
        resolve(codec.decode(reply));
      });
      connection.send(codec.encodeFrame(type, 1, body));
    });
  } finally {
    connection.close(`${what.toLowerCase()} read`);
  }
}
