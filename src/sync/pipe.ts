import type { ParentChannel } from '../core/shareable.js';
import { checkWaitOptions, type WaitOptions } from './atomic-wait.js';
import { ClosedError } from './errors.js';
import { DEFAULT_MAX_BYTES, Ring, type SharedRing } from './ring.js';
import { noSuchMethod, registerPrimitive, ServedProxy } from './share.js';

/**
 * `Pipe()` (multiprocessing.Pipe): two connected ends; what one sends the other receives, in
 * order, in both directions. Each direction is a ring of shared memory (see ring.ts), so the
 * ends work from any two threads. Closing an end closes both directions: the other end receives
 * what was already sent, then recv rejects with ClosedError (Python's EOFError), and its sends
 * reject at once (BrokenPipeError).
 */
export function Pipe<T = unknown>(): [PipeEnd<T>, PipeEnd<T>] {
  const aToB = new Ring(0, DEFAULT_MAX_BYTES);
  const bToA = new Ring(0, DEFAULT_MAX_BYTES);
  return [PipeEnd.over<T>(bToA.shared, aToB.shared), PipeEnd.over<T>(aToB.shared, bToA.shared)];
}

interface SharedEnd {
  incoming: SharedRing;
  outgoing: SharedRing;
}

let attaching: SharedEnd | undefined;

export class PipeEnd<T = unknown> {
  readonly #incoming: Ring;
  readonly #outgoing: Ring;
  #closed = false;

  /** Ends are made in pairs by Pipe(). */
  constructor() {
    if (!attaching) throw new TypeError('PipeEnd is not constructed directly: call Pipe() for two connected ends');
    this.#incoming = new Ring(0, 0, attaching.incoming);
    this.#outgoing = new Ring(0, 0, attaching.outgoing);
    attaching = undefined;
  }

  static over<T>(incoming: SharedRing, outgoing: SharedRing): PipeEnd<T> {
    attaching = { incoming, outgoing };
    return new PipeEnd<T>();
  }

  /** Sends a structured-cloned copy of `value` to the other end. */
  async send(value: T): Promise<void> {
    if (this.#closed) throw new ClosedError('PipeEnd.send(): this end is closed');
    await this.#outgoing.put(value, undefined, 'PipeEnd.send()');
  }

  /** The next value from the other end; TimeoutError after `timeout` ms; ClosedError once it closed. */
  recv(options?: WaitOptions): Promise<T> {
    if (this.#closed) return Promise.reject(new ClosedError('PipeEnd.recv(): this end is closed'));
    return this.#incoming.get(options, 'PipeEnd.recv()') as Promise<T>;
  }

  /** How many values wait to be received here. */
  get pending(): number {
    return this.#incoming.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    this.#outgoing.close();
    this.#incoming.close();
  }

  static {
    registerPrimitive<PipeEnd, SharedEnd>({
      name: 'PipeEnd',
      Class: PipeEnd,
      toShared: (end) => ({ incoming: end.#incoming.shared, outgoing: end.#outgoing.shared }),
      fromShared: (shared) => PipeEnd.over(shared.incoming, shared.outgoing),
      proxy: (parent, id) => new PipeEndProxy(parent, id),
      serve(end, method, args, signal) {
        switch (method) {
          case 'send': return end.send(args[0]);
          case 'recv': return end.recv({ ...(args[0] as WaitOptions | undefined), signal });
          case 'close': return end.close();
          default: throw noSuchMethod('PipeEnd', method);
        }
      },
    });
  }
}

/** A pipe end in a child process: the end lives in the parent. */
export class PipeEndProxy<T = unknown> extends ServedProxy {
  protected readonly kind = 'PipeEnd';

  constructor(parent: ParentChannel, id: number) {
    super(parent, id);
  }

  async send(value: T): Promise<void> {
    await this.call('send', [value]);
  }

  async recv(options?: WaitOptions): Promise<T> {
    checkWaitOptions(options);
    return this.call('recv', [ServedProxy.remoteOptions('PipeEnd', options)]) as Promise<T>;
  }

  close(): Promise<void> {
    return this.call('close') as Promise<void>;
  }

  get pending(): number {
    return this.unavailable('pending', 'use recv({ timeout: 0 })');
  }

  get closed(): boolean {
    return this.unavailable('closed', 'recv() rejects with ClosedError once it is');
  }
}
