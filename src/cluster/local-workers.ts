import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The worker processes a ClusterExecutor starts on its own host. They join over loopback like
 * any remote worker (same protocol, same authkey), so the cluster has one code path. One that
 * exits while the cluster is open is started again: at once if it had joined (a crash or a
 * kill), with a growing delay if it died before joining (a broken setup must not spin).
 */
export interface LocalWorkerSettings {
  count: number;
  /**
   * What local-entry.js starts, as JSON: `{ mode: 'connect', connect, authkey (base64), pool,
   * concurrency, allowFunctions }` for the embedded scheduler, `{ mode: 'broker', broker, ... }`
   * for a broker (BrokerWorkerOptions). Each worker also gets a `name`.
   */
  config: Record<string, unknown>;
  onExit(info: { pid: number | undefined; code: number | null; signal: string | null; joined: boolean }): void;
}

const ENTRY = fileURLToPath(new URL('./local-entry.js', import.meta.url));
const FIRST_RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 5000;
/** A worker that does not leave after SIGTERM (drain) within this time is killed. */
const STOP_GRACE_MS = 5000;

export class LocalWorkers {
  readonly #settings: LocalWorkerSettings;
  readonly #children = new Map<ChildProcess, { joined: boolean }>();
  #open = true;
  #failuresBeforeJoin = 0;
  #nextName = 1;
  #restartTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Called when a worker says it is ready (broker mode, over IPC) or exits. */
  onChange: (() => void) | undefined;

  constructor(settings: LocalWorkerSettings) {
    this.#settings = settings;
  }

  /** Consecutive local workers that died before joining. */
  get failuresBeforeJoin(): number {
    return this.#failuresBeforeJoin;
  }

  start(): void {
    for (let i = 0; i < this.#settings.count; i++) this.#spawn();
  }

  /** Workers that told this process they consume (broker mode; embedded workers join instead). */
  get readyCount(): number {
    let ready = 0;
    for (const state of this.#children.values()) if (state.joined) ready++;
    return ready;
  }

  pids(): number[] {
    return [...this.#children.keys()].map((c) => c.pid!).filter((pid) => pid !== undefined);
  }

  /** The scheduler saw a worker with this pid join. */
  joined(pid: number): boolean {
    for (const [child, state] of this.#children) {
      if (child.pid === pid) {
        state.joined = true;
        this.#failuresBeforeJoin = 0;
        return true;
      }
    }
    return false;
  }

  async stop(): Promise<void> {
    this.#open = false;
    for (const timer of this.#restartTimers) clearTimeout(timer);
    this.#restartTimers.clear();
    await Promise.all([...this.#children.keys()].map((child) => stopChild(child)));
  }

  #spawn(): void {
    const s = this.#settings;
    const config = { ...s.config, name: `local-${this.#nextName++}` };
    const child = fork(ENTRY, [], {
      // The caller's flags (a TypeScript loader, say) reach the workers; a debugger port would clash.
      execArgv: process.execArgv.filter((arg) => !arg.startsWith('--inspect')),
      env: { ...process.env, WEFT_LOCAL_WORKER: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const state = { joined: false };
    this.#children.set(child, state);
    child.on('error', () => {}); // reported through 'exit'
    child.on('message', (message) => {
      if ((message as { weft?: unknown })?.weft !== 'ready' || state.joined) return;
      state.joined = true;
      this.#failuresBeforeJoin = 0;
      this.onChange?.();
    });
    child.on('exit', (code, signal) => {
      this.#children.delete(child);
      s.onExit({ pid: child.pid, code, signal, joined: state.joined });
      this.onChange?.();
      if (!this.#open) return;
      if (!state.joined) this.#failuresBeforeJoin++;
      const delay = state.joined ? 0 : Math.min(MAX_RESTART_DELAY_MS, FIRST_RESTART_DELAY_MS * 2 ** (this.#failuresBeforeJoin - 1));
      const timer = setTimeout(() => {
        this.#restartTimers.delete(timer);
        if (this.#open) this.#spawn();
      }, delay);
      this.#restartTimers.add(timer);
    });
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
