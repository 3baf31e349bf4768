import { ProtocolError, TimeoutError } from '../core/errors.js';
import { expected } from '../core/validate.js';
import { Codec } from '../remote/codec.js';
import { dial } from '../remote/dial.js';
import { ClusterFrame, type StatusReply } from './protocol.js';

export interface StatusOptions {
  authkey: string | Uint8Array;
  /** Milliseconds to wait for the answer. @default 5000 */
  timeout?: number;
}

/** Asks a cluster's scheduler for its workers and counters (what `weft status` prints). */
export async function clusterStatus(address: string, options: StatusOptions): Promise<StatusReply> {
  if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object with an authkey', options));
  const timeout = options.timeout ?? 5000;
  const connection = await dial(address, { authkey: options.authkey, connectTimeout: timeout });
  const codec = new Codec();
  try {
    return await new Promise<StatusReply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`the scheduler at ${address} did not answer STATUS within ${timeout} ms`)), timeout);
      connection.onClose((error) => { clearTimeout(timer); reject(error); });
      connection.start((type, _id, body) => {
        clearTimeout(timer);
        if (type !== ClusterFrame.STATUS_REPLY) return reject(new ProtocolError(`expected a STATUS reply, got frame type 0x${type.toString(16)}`));
        resolve(codec.decode(body) as StatusReply);
      });
      connection.send(codec.encodeFrame(ClusterFrame.STATUS, 1, {}));
    });
  } finally {
    connection.close('status read');
  }
}
