import type { ParentChannel } from '../core/shareable.js';
import { checkWaitOptions, remaining, waitWord, type WaitOptions } from './atomic-wait.js';
import { noSuchMethod, registerPrimitive, ServedProxy } from './share.js';

/**
 * A flag threads wait for (threading.Event): one shared word, 0 clear, 1 set. `set` wakes
 * every waiter; a waiter re-reads the word after waking, so a clear right after a set may
 * leave it waiting, as in Python.
 */
let attaching: Int32Array | undefined;

export class Event {
  readonly #flag: Int32Array;

  constructor() {
    this.#flag = attaching ?? new Int32Array(new SharedArrayBuffer(4));
    attaching = undefined;
  }

  set(): void {
    Atomics.store(this.#flag, 0, 1);
    Atomics.notify(this.#flag, 0);
  }

  clear(): void {
    Atomics.store(this.#flag, 0, 0);
  }

  isSet(): boolean {
    return Atomics.load(this.#flag, 0) === 1;
  }

  /** Resolves true once the flag is set, false if `timeout` ms passed first. */
  async wait(options?: WaitOptions): Promise<boolean> {
    const { deadline, signal } = checkWaitOptions(options);
    for (;;) {
      if (Atomics.load(this.#flag, 0) === 1) return true;
      if (remaining(deadline) === 0) return false;
      await waitWord(this.#flag, 0, 0, deadline, signal);
    }
  }

  static {
    registerPrimitive<Event, SharedArrayBuffer>({
      name: 'Event',
      Class: Event,
      toShared: (event) => event.#flag.buffer as SharedArrayBuffer,
      fromShared(buffer) {
        attaching = new Int32Array(buffer);
        return new Event();
      },
      proxy: (parent, id) => new EventProxy(parent, id),
      serve(event, method, args, signal) {
        switch (method) {
          case 'set': return event.set();
          case 'clear': return event.clear();
          case 'wait': return event.wait({ ...(args[0] as WaitOptions | undefined), signal });
          default: throw noSuchMethod('Event', method);
        }
      },
    });
  }
}

/** An Event in a child process: the flag lives in the parent. */
export class EventProxy extends ServedProxy {
  protected readonly kind = 'Event';

  constructor(parent: ParentChannel, id: number) {
    super(parent, id);
  }

  set(): Promise<void> {
    return this.call('set') as Promise<void>;
  }

  clear(): Promise<void> {
    return this.call('clear') as Promise<void>;
  }

  isSet(): boolean {
    return this.unavailable('isSet()', 'use await event.wait({ timeout: 0 })');
  }

  async wait(options?: WaitOptions): Promise<boolean> {
    checkWaitOptions(options);
    return this.call('wait', [ServedProxy.remoteOptions('Event', options)]) as Promise<boolean>;
  }
}
