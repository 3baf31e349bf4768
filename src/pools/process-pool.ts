import type { ObjectServer } from '../core/shareable.js';
import { checkKnownOptions, checkPositiveInteger, expected } from '../core/validate.js';
import { createObjectServer, ObjectRegistry } from '../sync/object-channel.js';
import { POOL_OPTION_KEYS, PoolBase, type PoolOptions } from './pool-base.js';
import { ProcessTransport, type Transport, type TransportEvents } from './transports.js';
import { checkExecArgv } from './thread-pool.js';

export interface ProcessPoolOptions extends PoolOptions {
  /**
   * Heap cap of each child in MiB (`--max-old-space-size`); a child that exceeds it is replaced,
   * and the task it was running fails with a WorkerCrashedError whose `outOfMemory` is true.
   */
  maxMemoryMb?: number;
  /** Node.js flags of the children. @default the caller's `process.execArgv` (a loader such as tsx included; --inspect left out) */
  execArgv?: string[];
  /** Environment of the children. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * An executor on child processes (Python's `multiprocessing.Pool`): each task runs in another
 * process, so a crash, a leak or `process.exit` there cannot touch the caller. Messages use
 * Node's advanced serialization (structured clone); everything else works as in ThreadPool.
 */
export class ProcessPool extends PoolBase {
  protected readonly kind = 'ProcessPool';
  protected readonly workerKind = 'process';
  readonly #execArgv: string[];
  readonly #env: NodeJS.ProcessEnv | undefined;
  /** Lock, Queue, ... passed to tasks live here; children call them through their IPC channel. */
  readonly #objects = new ObjectRegistry();

  constructor(options: ProcessPoolOptions = {}) {
    super(checkKnownOptions('ProcessPool', options, { ...POOL_OPTION_KEYS, maxMemoryMb: true, execArgv: true, env: true }));
    const execArgv = checkExecArgv(options.execArgv) ?? inheritedExecArgv();
    if (options.maxMemoryMb !== undefined) {
      execArgv.push(`--max-old-space-size=${checkPositiveInteger('maxMemoryMb', options.maxMemoryMb)}`);
    }
    if (options.env !== undefined && (typeof options.env !== 'object' || options.env === null)) {
      throw new TypeError(expected('env', 'an object of environment variables', options.env));
    }
    this.#execArgv = execArgv;
    this.#env = options.env;
  }

  protected override get objectServer(): ObjectServer {
    return this.#objects;
  }

  protected spawnTransport(workerId: number, events: TransportEvents): Transport {
    // Batches are arrays; anything else on the channel is a child calling a served object.
    let transport: ProcessTransport | undefined;
    const objects = createObjectServer((msg) => transport?.send(msg), this.#objects);
    transport = new ProcessTransport(workerId, { execArgv: this.#execArgv, env: this.#env }, {
      message: (msg) => (Array.isArray(msg) ? events.message(msg) : void objects.handleMessage(msg)),
      exit: (info) => {
        objects.close();
        events.exit(info);
      },
    });
    return transport;
  }

  protected override async close(): Promise<void> {
    await super.close();
    this.#objects.clear();
  }
}

/** Flags that would make a child something else than a worker: run code, a REPL, tests. */
const WITH_VALUE = new Set(['-e', '--eval', '-p', '--print', '-pe', '--inspect-port', '--debug-port', '--watch-path']);
const ALONE = /^(-i|--interactive|-c|--check|--test|--watch|--inspect|--inspect-brk|--inspect-wait|--debug)$/;
const JOINED = /^--(eval|print|inspect|inspect-brk|inspect-wait|inspect-port|debug|debug-port|watch-path|input-type)=/;

/**
 * The caller's flags, minus those that would break a child: `-e code` / `-p code` (execArgv
 * holds them; the child would run that code instead of the worker, and a pool there would fork
 * again), the REPL, the test runner and watch modes, and the debugger (every child would try to
 * listen on the caller's inspector port).
 */
function inheritedExecArgv(): string[] {
  const out: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const arg = process.execArgv[i]!;
    if (WITH_VALUE.has(arg)) i++;
    else if (!ALONE.test(arg) && !JOINED.test(arg)) out.push(arg);
  }
  return out;
}
