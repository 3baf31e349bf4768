/**
 * What a benchmark's figures were measured with, for `--out` JSON and the `--html` report: weft's
 * version and git commit, the exact command, and the machine (CPU model, cores, memory, OS, Node,
 * load average). Figures without these cannot be compared with anyone else's, or with a later
 * run of one's own.
 *
 *   package.json above this file ─▶ version
 *   git (only when weft's own directory is a checkout) ─▶ commit, dirty
 *   process.argv ─▶ command          node:os, /etc/os-release ─▶ machine
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { availableParallelism, arch, cpus, loadavg, release, totalmem, type } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchMetadata {
  weft: {
    version: string;
    /** The checkout's HEAD; absent when weft is not run from a git checkout (an installed package). */
    commit?: string;
    /** Files tracked by git differ from the commit: the figures are of code no commit holds. */
    dirty?: boolean;
  };
  /** The command as typed, e.g. `weft bench pi --tasks 8` (arguments quoted for a POSIX shell where needed). */
  command: string;
  /** When the report was written (ISO 8601, UTC). */
  date: string;
  machine: {
    cpu: string;
    /** Cores this process may use (os.availableParallelism()). */
    cores: number;
    memoryBytes: number;
    /** e.g. "Debian GNU/Linux 12 (bookworm), Linux 6.1.0 x64". */
    os: string;
    node: string;
    /** 1, 5 and 15-minute load averages, when the bench command started and when it wrote this. */
    loadAverage: { start: number[]; end: number[] };
  };
}

// Read when the bench command loads this module, before any mode runs: the load the machine had
// from others, which the end figure (raised by the run itself) does not show.
const LOAD_AT_START = loadavg();

/** The directory of weft's package.json (dist/bench/.. or build/src/bench/../..). */
function packageRoot(): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(`${dir}/package.json`)) return dir;
  }
  return undefined;
}

function git(root: string, args: string[]): string | undefined {
  const run = spawnSync('git', ['-C', root, ...args], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

/**
 * The commit of weft's own checkout. An installed weft sits in node_modules of some project that
 * may well be a git checkout: that project's commit says nothing of weft, so the checkout must
 * start at weft's own directory.
 */
export function gitCheckout(root: string): { commit?: string; dirty?: boolean } {
  const top = git(root, ['rev-parse', '--show-toplevel']);
  // git prints the real path: compare real paths (a symlinked checkout, a trailing slash).
  if (top === undefined || realpathSync(top) !== realpathSync(root)) return {};
  const commit = git(root, ['rev-parse', 'HEAD']);
  if (commit === undefined) return {};
  const changes = git(root, ['status', '--porcelain', '--untracked-files=no']);
  return { commit, ...(changes ? { dirty: true } : {}) };
}

function version(root: string | undefined): string {
  if (root === undefined) return 'unknown';
  return (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version?: string }).version ?? 'unknown';
}

function osName(): string {
  const kernel = `${type()} ${release()} ${arch()}`;
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
    return pretty ? `${pretty}, ${kernel}` : kernel;
  } catch {
    return kernel; // not Linux, or no os-release: the kernel says enough
  }
}

/** An argument as a POSIX shell would need it typed. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `argv` is the command's arguments after `weft` (process.argv.slice(2) by default). */
export function benchMetadata(argv: string[] = process.argv.slice(2), now = new Date()): BenchMetadata {
  const root = packageRoot();
  const cpu = cpus()[0]?.model.trim() || 'unknown';
  return {
    weft: { version: version(root), ...(root ? gitCheckout(root) : {}) },
    command: ['weft', ...argv].map(shellQuote).join(' '),
    date: now.toISOString(),
    machine: {
      cpu,
      cores: availableParallelism(),
      memoryBytes: totalmem(),
      os: osName(),
      node: process.version,
      loadAverage: { start: LOAD_AT_START, end: loadavg() },
    },
  };
}

/**
 * The `--out` document: the figures `--json` prints, with `meta` beside them. One mode's figures
 * are an object, which gets a `meta` field; `bench all`'s are a list, which becomes `reports`.
 */
export function withMetadata(data: unknown, meta: BenchMetadata): Record<string, unknown> {
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) return { meta, ...(data as Record<string, unknown>) };
  return { meta, reports: data };
}
