/**
 * What a person sees while `weft bench` runs. The harness (measure, measureInterleaved,
 * progress()) reports every run of every row here, so each mode gets progress without code of
 * its own; `weft bench` picks the style once, from whether stderr is a terminal and --quiet.
 *
 *   harness: a task of N steps ──► step running / step finished ──► Progress
 *     live   (a terminal): one line on stderr, redrawn in place, erased before the table
 *            "pi  threads  run 4/9  ███████░░░░░  ETA 12 s"
 *     lines  (off a terminal): a line on stderr per finished step, e.g. for a CI log
 *            "pi: threads run 4/9: 0.412 s (ETA 12 s)"
 *     quiet  (--quiet, and the default for library callers): nothing
 *
 * stdout stays for the tables and --json; progress never writes there.
 */
import { performance } from 'node:perf_hooks';

export type ProgressStyle = 'live' | 'lines' | 'quiet';

/** Where progress goes: process.stderr, or a test's collector. */
export interface ProgressOutput {
  write(text: string): unknown;
  /** The terminal's width: a live line longer than this would wrap and could not be redrawn. */
  columns?: number;
}

/** Cells in the live line's bar. */
const BAR_CELLS = 12;
/** How often the live line's ETA is recomputed while a long step runs (a pi group, a green child). */
const TICK_MS = 1000;
/** Erase the whole line, then go back to its start. */
const ERASE_LINE = '\r\x1b[2K';

export class Progress {
  readonly style: ProgressStyle;
  readonly #out: ProgressOutput;
  /** The running mode, as the line starts: `pi`, or `mode 3/10: pi` in `bench all`. */
  #mode = '';
  /** The mode's short name, for the lines style. */
  #name = '';
  #shown = false;
  /** What the live line shows, to draw it again under a line printed above it. */
  #last: string | undefined;
  #task: ProgressTask | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(style: ProgressStyle, out: ProgressOutput = process.stderr) {
    this.style = style;
    this.#out = out;
  }

  /** A mode starts: `mode(name)` alone, or `mode(name, 3, 10)` in `bench all`. */
  mode(name: string, index?: number, count?: number): void {
    this.#name = name;
    this.#mode = index === undefined ? name : `mode ${index}/${count}: ${name}`;
    if (this.style === 'lines') this.#out.write(`${index === undefined ? `${name}: started` : this.#mode}\n`);
    else this.#draw(this.#mode);
  }

  /** A free-form event of the running mode (a skipped row, a server started). */
  note(message: string): void {
    if (this.style === 'lines') this.#out.write(`${this.#prefix()}${message}\n`);
    else this.#draw(`${this.#mode}  ${message}`);
  }

  /**
   * A line that must stay (a warning from weft's logger): printed above the live line, which is
   * drawn again under it; printed as is in the other styles, --quiet included.
   */
  above(line: string): void {
    if (this.style !== 'live' || !this.#shown) {
      this.#out.write(`${line}\n`);
      return;
    }
    this.#out.write(`${ERASE_LINE}${line}\n`);
    this.#shown = false;
    if (this.#last !== undefined) this.#draw(this.#last);
  }

  /** A counted piece of work (runs of rows, rounds), with a bar and an ETA. */
  task(total: number): ProgressTask {
    const task = new ProgressTask(this, total);
    this.#task = task;
    if (this.style === 'live' && this.#timer === undefined) {
      this.#timer = setInterval(() => this.#task?.redraw(), TICK_MS);
      this.#timer.unref();
    }
    return task;
  }

  /** Erases the live line (before a table is printed over it) and stops its clock. */
  clear(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#task = undefined;
    if (this.#shown) this.#out.write(ERASE_LINE);
    this.#shown = false;
    this.#last = undefined;
  }

  /** @internal ProgressTask's way out. */
  report(line: string, finished: string | undefined): void {
    if (this.style === 'lines' && finished !== undefined) this.#out.write(`${this.#prefix()}${finished}\n`);
    else if (this.style === 'live') this.#draw(`${this.#mode}  ${line}`);
  }

  /** @internal */
  ended(task: ProgressTask): void {
    if (this.#task === task) this.#task = undefined;
  }

  #prefix(): string {
    return this.#name ? `${this.#name}: ` : '';
  }

  #draw(text: string): void {
    if (this.style !== 'live') return;
    const width = this.#out.columns || 80; // 0 under some pseudo-terminals
    const line = text.length >= width ? `${text.slice(0, Math.max(0, width - 2))}…` : text;
    this.#out.write(`${ERASE_LINE}${line}`);
    this.#shown = true;
    this.#last = text;
  }
}

/** N steps: each a named row's run (`threads`, `run 4/9`), timed for the ETA. */
export class ProgressTask {
  readonly #progress: Progress;
  readonly #total: number;
  readonly #started = performance.now();
  #done = 0;
  #running: { name: string; detail: string; since: number } | undefined;

  constructor(progress: Progress, total: number) {
    this.#progress = progress;
    this.#total = Math.max(1, total);
  }

  /** A step starts: the live line shows it while it runs. */
  running(name: string, detail: string): void {
    this.#running = { name, detail, since: performance.now() };
    this.redraw();
  }

  /** A step ended; `figure` is what it measured (`0.412 s`), printed off a terminal. */
  finished(name: string, detail: string, figure?: string): void {
    this.#done = Math.min(this.#total, this.#done + 1);
    this.#running = undefined;
    const eta = this.#eta();
    const finished = `${name} ${detail}${figure === undefined ? '' : `: ${figure}`}${eta === undefined || this.#done === this.#total ? '' : ` (ETA ${eta})`}`;
    this.#progress.report(this.#line(name, detail), finished);
  }

  /** The work is over (the bar is full, or it stopped early on an error). */
  end(): void {
    this.#progress.ended(this);
  }

  /** @internal Redraws the live line (the clock calls it while a long step runs). */
  redraw(): void {
    const step = this.#running;
    if (step) this.#progress.report(this.#line(step.name, step.detail), undefined);
  }

  #line(name: string, detail: string): string {
    const filled = Math.round((this.#done / this.#total) * BAR_CELLS);
    const eta = this.#eta();
    return `${name}  ${detail}  ${'█'.repeat(filled)}${'░'.repeat(BAR_CELLS - filled)}${eta === undefined ? '' : `  ETA ${eta}`}`;
  }

  /** Time left at the pace so far; unknown until a step has finished. */
  #eta(): string | undefined {
    if (this.#done === 0) return undefined;
    const now = performance.now();
    const perStep = (now - this.#started) / this.#done;
    const inStep = this.#running ? now - this.#running.since : 0;
    return formatSeconds(Math.max(0, perStep * (this.#total - this.#done) - inStep) / 1000);
  }
}

/** `12 s`, `3 min 05 s`. */
export function formatSeconds(seconds: number): string {
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
}

let current = new Progress('quiet');

/** The progress every benchmark reports to (quiet until `weft bench` installs its own). */
export function benchProgress(): Progress {
  return current;
}

/** Installs the process's progress (the CLI does, once); returns the one it replaced. */
export function setBenchProgress(progress: Progress): Progress {
  const previous = current;
  previous.clear();
  current = progress;
  return previous;
}

/** The style for a command line: quiet when asked, live on a terminal, lines otherwise. */
export function progressStyle(quiet: boolean, stream: { isTTY?: boolean } = process.stderr): ProgressStyle {
  if (quiet) return 'quiet';
  return stream.isTTY ? 'live' : 'lines';
}
