import type { Transferable } from './transfer.js';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { Readable } from 'node:stream';
import type { WorkerBoot } from './wire.js';
import { preloadsFrom } from './preload.js';

/** How a worker ended, as far as the pool can tell. */
export interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
  reason: string | undefined;
  /** Seq of the last call the worker started, when it could say. */
  started: number | undefined;
}

export interface TransportEvents {
  message(batch: unknown[]): void;
  exit(info: ExitInfo): void;
}

export interface ProcessTransportEvents {
  /** Batches, and object-channel calls from the child. */
  message(message: unknown): void;
  exit(info: ExitInfo): void;
}

/** One worker thread or child process, seen from the pool: a pipe for batches and an exit. */
export interface Transport {
  readonly threadId: number | undefined;
  readonly pid: number | undefined;
  send(batch: unknown[], transfer: Transferable[] | undefined): void;
  /** Ends an idle worker. */
  stop(): void;
  /** Ends it now, whatever it is doing. */
  kill(signal?: NodeJS.Signals): void;
  /** Busy workers keep the program alive; idle ones do not. */
  setBusy(busy: boolean): void;
}

export interface ThreadTransportOptions {
  resourceLimits: ResourceLimits | undefined;
  execArgv: string[] | undefined;
}

const THREAD_ENTRY = new URL('./thread-entry.js', import.meta.url);
const PROCESS_ENTRY = fileURLToPath(new URL('./process-entry.js', import.meta.url));

export class ThreadTransport implements Transport {
  #worker: Worker;
  #started: Int32Array;
  #error: Error | undefined;

  constructor(workerId: number, options: ThreadTransportOptions, events: TransportEvents) {
    const started = new SharedArrayBuffer(4);
    this.#started = new Int32Array(started);
    const workerData: WorkerBoot = { started, workerId, preload: preloadsFrom(options.execArgv ?? process.execArgv) };
    this.#worker = new Worker(THREAD_ENTRY, { workerData, resourceLimits: options.resourceLimits, execArgv: options.execArgv });
    this.#worker.on('message', events.message);
    this.#worker.on('error', (error) => { this.#error = error; });
    this.#worker.on('exit', (exitCode) => {
      const error = this.#error;
      const reason = error ? `${error.name}${(error as NodeJS.ErrnoException).code ? ` [${(error as NodeJS.ErrnoException).code}]` : ''}: ${error.message}` : undefined;
      events.exit({ exitCode, signal: null, reason, started: Atomics.load(this.#started, 0) });
    });
  }

  get threadId(): number {
    return this.#worker.threadId;
  }

  get pid(): undefined {
    return undefined;
  }

  send(batch: unknown[], transfer: Transferable[] | undefined): void {
    this.#worker.postMessage(batch, transfer as readonly Transferable[] ?? []);
  }

  stop(): void {
    this.#worker.ref(); // the pool waits for its exit
    void this.#worker.terminate();
  }

  kill(): void {
    this.stop();
  }

  setBusy(busy: boolean): void {
    if (busy) this.#worker.ref();
    else this.#worker.unref();
  }
}

export interface ProcessTransportOptions {
  execArgv: string[];
  env: NodeJS.ProcessEnv | undefined;
}

export class ProcessTransport implements Transport {
  #child: ChildProcess;
  #report = '';
  #reportPipe: Readable & { ref?(): void; unref?(): void };
  #exit: { code: number | null; signal: string | null } | undefined;

  constructor(_workerId: number, options: ProcessTransportOptions, events: ProcessTransportEvents) {
    this.#child = fork(PROCESS_ENTRY, [], {
      serialization: 'advanced',
      execArgv: options.execArgv,
      env: options.env,
      stdio: ['inherit', 'inherit', 'inherit', 'ipc', 'pipe'],
    });
    this.#child.on('message', events.message);
    const report = this.#child.stdio[4] as Readable;
    report.setEncoding('utf8');
    report.on('data', (chunk: string) => { this.#report += chunk; });
    this.#reportPipe = report as Readable & { ref?(): void; unref?(): void };
    this.#child.on('error', () => {}); // a failed send surfaces as the exit that follows
    // The exit report may arrive after 'exit': settle once the process has exited and the
    // report pipe has closed.
    let exited = false;
    let drained = false;
    const settle = () => {
      if (!exited || !drained) return;
      exited = false;
      let parsed: { started?: number; reason?: string } = {};
      try {
        if (this.#report) parsed = JSON.parse(this.#report) as typeof parsed;
      } catch {
        // a torn report: treat as none
      }
      events.exit({ exitCode: this.#exit!.code, signal: this.#exit!.signal, reason: parsed.reason, started: parsed.started });
    };
    report.on('close', () => { drained = true; settle(); });
    this.#child.on('exit', (code, signal) => {
      this.#exit = { code, signal };
      exited = true;
      settle();
    });
  }

  get threadId(): undefined {
    return undefined;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** A batch, or an object-channel reply. */
  send(message: unknown): void {
    if (this.#child.connected) this.#child.send(message as object);
  }

  stop(): void {
    this.setBusy(true); // the pool waits for its exit
    if (this.#child.connected) this.#child.disconnect();
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.setBusy(true);
    this.#child.kill(signal);
  }

  setBusy(busy: boolean): void {
    const channel = (this.#child as ChildProcess & { channel?: { ref(): void; unref(): void } }).channel;
    if (busy) {
      this.#child.ref();
      channel?.ref();
      this.#reportPipe.ref?.();
    } else {
      this.#child.unref();
      channel?.unref();
      this.#reportPipe.unref?.();
    }
  }
}
