import type { ResourceLimits } from 'node:worker_threads';
import { checkKnownOptions, expected } from '../core/validate.js';
import { POOL_OPTION_KEYS, PoolBase, type PoolOptions } from './pool-base.js';
import { ThreadTransport, type Transport, type TransportEvents } from './transports.js';

export interface ThreadPoolOptions extends PoolOptions {
  /**
   * Heap and stack limits of each worker thread; a worker that exceeds them is replaced, and the
   * task it was running fails with a WorkerCrashedError whose `outOfMemory` is true.
   */
  resourceLimits?: ResourceLimits;
  /**
   * Node.js flags of the worker threads. @default the caller's `process.execArgv`, so that a
   * TypeScript loader such as `tsx` reaches the workers.
   */
  execArgv?: string[];
}

/**
 * An executor on worker threads (Python's `multiprocessing.dummy.Pool`, but truly parallel).
 * Tasks come from defineTasks modules, imported once per worker, or are self-contained
 * functions shipped by source. See pool-base.ts for how work flows and how failures are handled.
 */
export class ThreadPool extends PoolBase {
  protected readonly kind = 'ThreadPool';
  protected readonly workerKind = 'thread';
  // A worker's port keeps what is posted to it until the worker listens: a cold pool's first
  // calls go with the spawn and start the moment the worker is up.
  protected override readonly sendsWhileStarting = true;
  readonly #resourceLimits: ResourceLimits | undefined;
  readonly #execArgv: string[] | undefined;

  constructor(options: ThreadPoolOptions = {}) {
    super(checkKnownOptions('ThreadPool', options, { ...POOL_OPTION_KEYS, resourceLimits: true, execArgv: true }));
    const { resourceLimits, execArgv } = options;
    if (resourceLimits !== undefined && (typeof resourceLimits !== 'object' || resourceLimits === null)) {
      throw new TypeError(expected('resourceLimits', 'an object such as { maxOldGenerationSizeMb: 64 }', resourceLimits));
    }
    this.#resourceLimits = resourceLimits;
    this.#execArgv = checkExecArgv(execArgv);
  }

  protected spawnTransport(workerId: number, events: TransportEvents): Transport {
    return new ThreadTransport(workerId, { resourceLimits: this.#resourceLimits, execArgv: this.#execArgv }, events);
  }
}

export function checkExecArgv(execArgv: unknown): string[] | undefined {
  if (execArgv === undefined) return undefined;
  if (!Array.isArray(execArgv) || !execArgv.every((a) => typeof a === 'string')) {
    throw new TypeError(expected('execArgv', 'an array of strings', execArgv));
  }
  return [...execArgv];
}
