/**
 * The advice of `weft bench advise`, from the figures alone (no I/O): whether the task computes
 * or waits, which executor ran it fastest, and which to use and why, with the figures.
 *
 * - What a call is: the inline sample's on-CPU share (time on a core over the time it could
 *   have run). A call that computes scales with cores (threads, processes); one that waits
 *   scales with calls in flight (green).
 * - A pool that is only a little faster than another is called even: a sample of a few seconds
 *   on a shared machine moves by that much from run to run.
 * - On a busy machine a CPU-bound task's threads may not beat inline (no free core); the CPU a
 *   pool spends per call, which load does not change, then says whether it pays on free cores.
 */

export const EXECUTOR_NAMES = ['inline', 'green', 'threads', 'processes'] as const;
export type AdviseExecutor = (typeof EXECUTOR_NAMES)[number];
export type CallKind = 'cpu-bound' | 'io-bound' | 'mixed';

/** A call on a core at least this share of the time it could run computes: cores speed it up. */
export const CPU_BOUND_SHARE = 0.6;
/** Below this share a call mostly waits: calls in flight speed it up, cores do not. */
export const IO_BOUND_SHARE = 0.25;
/** Closer than this ratio, two rows are called even (sample noise on a shared machine). */
export const CLEARLY_FASTER = 1.1;
/** A pool that spends less than this share of the call's own CPU on dispatch pays on free cores. */
const CHEAP_DISPATCH = 0.25;
/** Arguments plus result above this are worth a note when they cross to a worker. */
const LARGE_MESSAGE = 64 * 1024;

export interface AdviseRow {
  executor: AdviseExecutor;
  /** The constructor call, e.g. `GreenPool({ size: 500 })`. */
  settings: string;
  calls: number;
  seconds: number;
  callsPerSecond: number;
  /** CPU seconds per call (this process and the pool's children), where it could be read. */
  cpuPerCall?: number;
  /** CPU seconds per call of the calling thread alone: for a pool, what sending and answering cost. */
  callerCpuPerCall?: number;
  /** Why this executor could not run the task (then its figures are not used). */
  error?: string;
}

export interface AdviseFigures {
  rows: AdviseRow[];
  /** The inline sample's on-CPU share (see advise-sample.ts). */
  onCpuShare: number;
  bytesIn: number;
  bytesOut?: number;
  cores: number;
  /** ThreadPool and ProcessPool workers in the sample. */
  workers: number;
  /** The 1-minute load average when the sample ended, to explain a busy machine. */
  loadAverage: number;
}

export interface Advice {
  kind: CallKind;
  executor: AdviseExecutor;
  settings: string;
  /** One line: the verdict and its figures. */
  text: string;
  /** Lines that qualify it: a busy machine, large messages, a failed executor. */
  notes: string[];
}

export function classify(onCpuShare: number): CallKind {
  if (onCpuShare >= CPU_BOUND_SHARE) return 'cpu-bound';
  if (onCpuShare < IO_BOUND_SHARE) return 'io-bound';
  return 'mixed';
}

export function formatSeconds(seconds: number): string {
  if (seconds >= 1) return `${seconds.toFixed(2)} s`;
  if (seconds >= 1e-3) return `${(seconds * 1e3).toFixed(seconds >= 0.1 ? 0 : 1)} ms`;
  return `${(seconds * 1e6).toFixed(seconds >= 1e-4 ? 0 : 1)} µs`;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${bytes} B`;
}

function times(ratio: number): string {
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(ratio >= 1 ? 1 : 2)}x`;
}

function percentOf(share: number): string {
  return `${Math.round(share * 100)}%`;
}

interface Rows {
  inline: AdviseRow;
  ok: Map<AdviseExecutor, AdviseRow>;
}

function speedup(row: AdviseRow, rows: Rows): number {
  return row.callsPerSecond / rows.inline.callsPerSecond;
}

/** The verdict for these figures. The inline row must have run (the probe ran it already). */
export function advise(figures: AdviseFigures): Advice {
  const inline = figures.rows.find((r) => r.executor === 'inline' && r.error === undefined && r.calls > 0);
  if (!inline) throw new Error('the inline sample is missing: the advice compares every executor with it');
  const rows: Rows = { inline, ok: new Map(figures.rows.filter((r) => r.error === undefined && r.calls > 0).map((r) => [r.executor, r])) };
  const kind = classify(figures.onCpuShare);
  const advice = kind === 'cpu-bound' ? adviseCpuBound(figures, rows) : kind === 'io-bound' ? adviseIoBound(figures, rows) : adviseMixed(figures, rows);
  for (const row of figures.rows) if (row.error !== undefined) advice.notes.push(`${row.executor} could not run the task: ${row.error}`);
  advice.notes.push(...messageNotes(figures, advice.executor));
  return advice;
}

/** What one inline call cost: its wall time, and the CPU of it (the calling thread's where known). */
function callCost(figures: AdviseFigures, rows: Rows): { wall: string; cpu: string; share: string } {
  const cpu = rows.inline.callerCpuPerCall ?? rows.inline.cpuPerCall;
  const wall = 1 / rows.inline.callsPerSecond;
  return { wall: formatSeconds(wall), cpu: formatSeconds(cpu ?? wall * figures.onCpuShare), share: percentOf(figures.onCpuShare) };
}

/** "each call takes 21 ms and is on a core 2% of it (0.4 ms)": the figures the kind is read from. */
function waitingHead(kind: string, figures: AdviseFigures, rows: Rows): string {
  const cost = callCost(figures, rows);
  return `${kind}: each call takes ${cost.wall} and is on a core ${cost.share} of it (${cost.cpu})`;
}

function adviseCpuBound(figures: AdviseFigures, rows: Rows): Advice {
  const threads = rows.ok.get('threads');
  const processes = rows.ok.get('processes');
  const pool = threads && (!processes || processes.callsPerSecond <= threads.callsPerSecond * CLEARLY_FASTER) ? threads : processes;
  const cost = callCost(figures, rows);
  const head = `CPU-bound, ${cost.cpu} per call (on a core ${cost.share} of the time it could run)`;
  if (!pool || figures.cores < 2 || figures.workers < 2) {
    const why = !pool ? 'neither pool could run it' : figures.cores < 2 ? 'one core: nothing runs in parallel here' : 'one worker: nothing runs in parallel';
    return { kind: 'cpu-bound', executor: 'inline', settings: rows.inline.settings, text: `${head}: run it inline (${why})`, notes: [] };
  }
  const gain = speedup(pool, rows);
  // CPU a pool spends per call beyond the call itself: the calling thread's (sending the call,
  // taking its answer), which two busy workers on shared cores do not inflate; else the excess
  // of the pool's CPU per call over inline's.
  const excess = pool.cpuPerCall !== undefined && rows.inline.cpuPerCall !== undefined ? Math.max(0, pool.cpuPerCall - rows.inline.cpuPerCall) : undefined;
  const dispatch = pool.callerCpuPerCall ?? excess;
  const dispatchShare = dispatch !== undefined && rows.inline.cpuPerCall ? dispatch / rows.inline.cpuPerCall : undefined;
  const pays = gain >= CLEARLY_FASTER || (dispatchShare !== undefined && dispatchShare < CHEAP_DISPATCH);
  if (!pays) {
    const cost = dispatch !== undefined ? `, and a ${pool.executor === 'threads' ? 'ThreadPool' : 'ProcessPool'} spends ${formatSeconds(dispatch)} of CPU per call sending it and taking its answer, ${times(dispatchShare!)} the call itself` : '';
    return {
      kind: 'cpu-bound',
      executor: 'inline',
      settings: rows.inline.settings,
      text: `${head}: too small to ship one by one, run it inline: ${pool.executor} reached ${times(gain)} inline${cost}; give each call more work (a batch of items) to use the cores`,
      notes: [],
    };
  }
  const other = pool === threads ? processes : threads;
  let comparison = '';
  if (other) {
    const cpuRatio = other.cpuPerCall !== undefined && pool.cpuPerCall ? other.cpuPerCall / pool.cpuPerCall : undefined;
    if (pool === threads) comparison = cpuRatio !== undefined ? `; processes cost ${times(cpuRatio)} the CPU per call here (${times(speedup(other, rows))} inline)` : `; processes ${times(speedup(other, rows))} inline`;
    else comparison = `; threads ${times(speedup(other, rows))} inline`;
  }
  const notes: string[] = [];
  if (gain < CLEARLY_FASTER) {
    notes.push(`${pool.executor} reached only ${times(gain)} inline in this sample: the machine is busy (load average ${figures.loadAverage.toFixed(1)} on ${figures.cores} cores); sending a call and taking its answer costs ${percentOf(dispatchShare!)} of the call's CPU, so on free cores expect up to ~${Math.min(figures.cores, figures.workers)}x`);
  }
  const green = rows.ok.get('green');
  if (green) notes.push(`green ran it at ${times(speedup(green, rows))} inline: a call that computes holds the event loop, so green threads add nothing`);
  return {
    kind: 'cpu-bound',
    executor: pool.executor,
    settings: pool.settings,
    text: `${head}: ${pool.settings}, map with the default chunking: ${times(gain)} inline${comparison}`,
    notes,
  };
}

function adviseIoBound(figures: AdviseFigures, rows: Rows): Advice {
  const green = rows.ok.get('green');
  const pools = (['threads', 'processes'] as const).map((name) => rows.ok.get(name)).filter((r): r is AdviseRow => r !== undefined);
  const bestPool = pools.sort((a, b) => b.callsPerSecond - a.callsPerSecond)[0];
  const head = waitingHead('IO-bound', figures, rows);
  if (green && (!bestPool || green.callsPerSecond * CLEARLY_FASTER >= bestPool.callsPerSecond)) {
    const threads = rows.ok.get('threads');
    const rest = threads ? `; threads add nothing (${times(speedup(threads, rows))} inline, ${times(threads.callsPerSecond / green.callsPerSecond)} green)` : '';
    return { kind: 'io-bound', executor: 'green', settings: green.settings, text: `${head}: ${green.settings} is ${times(speedup(green, rows))} inline${rest}`, notes: [] };
  }
  if (bestPool) {
    const greenPart = green ? `green is only ${times(speedup(green, rows))} inline: the call holds the event loop while it waits (synchronous IO, Atomics.wait)` : 'green could not run it';
    return {
      kind: 'io-bound',
      executor: bestPool.executor,
      settings: bestPool.settings,
      text: `${head}, blocking its thread: ${bestPool.settings} is ${times(speedup(bestPool, rows))} inline; ${greenPart}; more workers overlap more waits (each waits, it does not compute)`,
      notes: [],
    };
  }
  return { kind: 'io-bound', executor: 'inline', settings: rows.inline.settings, text: `${head}: run it inline (no other executor could run it)`, notes: [] };
}

/** Part computing, part waiting: the fastest here, or the simplest within sample noise of it. */
function adviseMixed(figures: AdviseFigures, rows: Rows): Advice {
  const ok = EXECUTOR_NAMES.map((name) => rows.ok.get(name)).filter((r): r is AdviseRow => r !== undefined);
  const best = Math.max(...ok.map((r) => r.callsPerSecond));
  const pick = ok.find((r) => r.callsPerSecond * CLEARLY_FASTER >= best)!;
  const others = ok.filter((r) => r !== pick && r.executor !== 'inline').map((r) => `${r.executor} ${times(speedup(r, rows))}`).join(', ');
  return {
    kind: 'mixed',
    executor: pick.executor,
    settings: pick.settings,
    text: `${waitingHead('Mixed', figures, rows)}; ${pick.settings} is ${times(speedup(pick, rows))} inline here, the best of the four${others ? ` (${others} inline)` : ''}`,
    notes: [],
  };
}

/** What crosses to a worker per call, when it is large enough to matter. */
function messageNotes(figures: AdviseFigures, executor: AdviseExecutor): string[] {
  const out = figures.bytesOut ?? 0;
  if (figures.bytesIn + out < LARGE_MESSAGE) return [];
  const sizes = `${formatBytes(figures.bytesIn)} of arguments and ${figures.bytesOut === undefined ? 'a result that cannot be copied' : `${formatBytes(out)} of result`}`;
  if (executor === 'threads' || executor === 'processes') {
    return [`each call copies ${sizes} to and from a worker: pass ArrayBuffers with transfer() instead of copying them, or load large data in the worker`];
  }
  return [`each call has ${sizes}: ${executor} runs it in this thread, so nothing is copied; a pool would copy it per call`];
}
