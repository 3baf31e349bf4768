import type { Transferable } from './transfer.js';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { Readable } from 'node:stream';
import { deserialize } from 'node:v8';
import type { WorkerBoot } from './wire.js';
import { preloadsFrom } from './preload.js';

/** How a worker ended, as far as the pool can tell. */
export interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
  reason: string | undefined;
  /** Seq of the last call the worker started, when it could say. */
  started: number | undefined;
  /** Answers the worker had not sent yet when it died, when it could say (processes). */
  pending?: unknown[];
  /** It reached its heap limit; `reason` then starts with "out of memory". */
  outOfMemory: boolean;
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
    // Node drains the worker's messages before 'exit': every answer it posted has arrived.
    this.#worker.on('exit', (exitCode) => {
      const error = this.#error;
      const code = (error as NodeJS.ErrnoException | undefined)?.code;
      // Past resourceLimits Node stops the thread ('error' ERR_WORKER_OUT_OF_MEMORY) before
      // V8 would abort the whole process.
      const outOfMemory = code === 'ERR_WORKER_OUT_OF_MEMORY';
      const reason = !error ? undefined : outOfMemory ? `out of memory (${code}: ${error.message})` : `${error.name}${code ? ` [${code}]` : ''}: ${error.message}`;
      events.exit({ exitCode, signal: null, reason, started: Atomics.load(this.#started, 0), outOfMemory });
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

/**
 * How long a dead child's stderr may stay open before its exit is reported anyway: a process the
 * task started can hold it open; V8's out-of-memory line was written before the child died.
 */
const STDERR_AFTER_EXIT_MS = 200;

type Pipe = Readable & { ref?(): void; unref?(): void };

export class ProcessTransport implements Transport {
  #child: ChildProcess;
  #report = '';
  #reportPipe: Pipe;
  #stderr: StderrWatch;
  #exit: { code: number | null; signal: string | null } | undefined;

  constructor(_workerId: number, options: ProcessTransportOptions, events: ProcessTransportEvents) {
    this.#child = fork(PROCESS_ENTRY, [], {
      serialization: 'advanced',
      execArgv: options.execArgv,
      env: options.env,
      stdio: ['inherit', 'inherit', 'pipe', 'ipc', 'pipe'],
    });
    this.#child.on('message', events.message);
    const report = this.#child.stdio[4] as Readable;
    report.setEncoding('utf8');
    report.on('data', (chunk: string) => { this.#report += chunk; });
    this.#reportPipe = report as Pipe;
    this.#child.on('error', () => {}); // a failed send surfaces as the exit that follows
    // Report the exit once the process has exited, its exit report has arrived (the report pipe
    // closed), every message it wrote has been read (the IPC channel closed: answers written
    // just before it died count) and its stderr has closed (V8 writes why it aborted there).
    const left = new Set(['exit', 'report', 'channel', 'stderr']);
    let stderrTimer: ReturnType<typeof setTimeout> | undefined;
    const settle = (what: string) => {
      if (!left.delete(what)) return;
      if (left.size === 1 && left.has('stderr')) stderrTimer = setTimeout(() => settle('stderr'), STDERR_AFTER_EXIT_MS);
      if (left.size > 0) return;
      if (stderrTimer) clearTimeout(stderrTimer);
      this.#stderr.pipe.unref?.(); // still open only if a process the task started holds it
      events.exit(this.#exitInfo());
    };
    this.#stderr = new StderrWatch(this.#child.stderr as Pipe, () => settle('stderr'));
    report.on('close', () => settle('report'));
    this.#child.on('disconnect', () => settle('channel'));
    if (!this.#child.connected) settle('channel');
    this.#child.on('exit', (code, signal) => {
      this.#exit = { code, signal };
      settle('exit');
    });
  }

  #exitInfo(): ExitInfo {
    let parsed: { started?: number; reason?: string; pending?: string } = {};
    try {
      if (this.#report) parsed = JSON.parse(this.#report) as typeof parsed;
    } catch {
      // a torn report: treat as none
    }
    const pending = parsed.pending ? deserialize(Buffer.from(parsed.pending, 'base64')) as unknown[] : undefined;
    // V8 aborts a process out of heap without running any JavaScript: no report, only its line
    // on stderr, then abort() (a task printing such a line and exiting otherwise does not count).
    const { code, signal } = this.#exit!;
    const oom = signal === 'SIGABRT' || code === 134 ? this.#stderr.outOfMemory : undefined;
    const reason = oom ? `out of memory (${oom})` : parsed.reason;
    return { exitCode: code, signal, reason, started: parsed.started, pending, outOfMemory: oom !== undefined };
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
      this.#stderr.pipe.ref?.();
    } else {
      this.#child.unref();
      channel?.unref();
      this.#reportPipe.unref?.();
      this.#stderr.pipe.unref?.();
    }
  }
}

/** V8's last words when a heap runs out: "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory". */
const OUT_OF_MEMORY = /FATAL ERROR: ([^\r\n]*out of memory)/;
/** Enough of the previous chunk to find the line when a chunk boundary cuts it. */
const CARRY = 256;

/**
 * A child's stderr, passed on to ours byte for byte, watched for V8's out-of-memory line: the
 * sure sign, with the SIGABRT that follows it (which alone has other causes). Costs nothing
 * while the child is silent.
 */
class StderrWatch {
  outOfMemory: string | undefined;
  #carry = '';

  constructor(readonly pipe: Pipe, onClose: () => void) {
    pipe.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      if (this.outOfMemory !== undefined) return;
      const text = this.#carry + chunk.toString('latin1');
      const match = OUT_OF_MEMORY.exec(text);
      if (match && match.index + match[0].length < text.length) this.outOfMemory = match[0];
      else this.#carry = text.slice(-CARRY);
    });
    pipe.on('close', onClose);
  }
}
