/**
 * `weft bench MODE [flags]`: runs one benchmark mode (or `all`) and prints its table, notes and
 * verdicts, or --json. The command line is strict: the mode's own flags (BenchMode.flags) and the
 * common ones, nothing else; every value is checked and every peer package loaded before any
 * mode starts, so a mistake costs a second, not a benchmark.
 *
 *   argv ─► the mode (first argument; none: pi) ─► parseCommand(common + mode flags), strict
 *        ─► every selected mode's prepare()        bad value: UsageError (exit 2)
 *                                                  missing peer package: one line (exit 1)
 *        ─► for each mode: progress (stderr) ─► mode.run() ─► noise verdict ─► table on stdout
 *        ─► --json on stdout, --out FILE, --html FILE
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { printReport, type BenchReport } from '../bench/harness.js';
import { renderHtml } from '../bench/html-report.js';
import { benchMetadata, withMetadata } from '../bench/metadata.js';
import { runGreenChild } from '../bench/green.js';
import { formatSeconds, Progress, progressStyle, setBenchProgress } from '../bench/progress.js';
import { BenchOptionError, benchMode, benchModes, intOption, type BenchArgs, type BenchContext, type BenchMode } from '../bench/registry.js';
import { judgeNoise, loadAverage, NOISE_THRESHOLD, wantsColor, type Noise } from '../bench/verdict.js';
import { consoleLogger, setLogger } from '../log.js';
import { parseCommand, UsageError, type CommandSpec, type OptionSpecs } from './command.js';

const COMMON_FLAGS: OptionSpecs = {
  json: { type: 'boolean' },
  out: { type: 'string' },
  html: { type: 'string' },
  quiet: { type: 'boolean' },
};

const COMMON_USAGE = [
  'common options:',
  '  --json           print the figures as JSON instead of a table',
  '  --out FILE       also write the JSON to FILE',
  '  --html FILE      also write an HTML report with charts to FILE',
  '  --quiet          no progress on stderr (a live line on a terminal, else a line per finished run)',
  '  -h, --help       this help',
];

/** The default mode, what `weft bench` alone runs (the README's first command). */
const DEFAULT_MODE = 'pi';

/** `weft bench --help`: every mode with its options. */
export function benchHelp(): string {
  const lines = ['usage: weft bench MODE [options]   (rows run side by side in one run; a table, verdicts, --json)', '', 'modes:'];
  for (const mode of benchModes()) {
    lines.push(`  ${mode.name.padEnd(10)} ${mode.summary}`);
    for (const option of mode.options) lines.push(`      ${option}`);
  }
  lines.push(`  all        ${allSummary()}`, '', ...COMMON_USAGE);
  return lines.join('\n');
}

function allSummary(): string {
  const shared = Object.keys(sharedFlags());
  return `every mode marked for it in turn, at reduced sizes (each title gives its own)${shared.length ? `; takes ${shared.map((f) => `--${f}`).join(', ')}` : ''}`;
}

/** The short usage after an unknown mode: the modes, and where the options are. */
function modesUsage(): string {
  return `usage: weft bench MODE [options]\nmodes: ${[...benchModes().map((m) => m.name), 'all'].join(', ')}\n\`weft bench --help\` gives every mode's options`;
}

function modeUsage(mode: BenchMode): string {
  return [`usage: weft bench ${mode.name} [options]`, '', mode.summary, '', 'options:', ...mode.options.map((o) => `  ${o}`), '', ...COMMON_USAGE].join('\n');
}

function allUsage(): string {
  const skipped = benchModes().filter((m) => !m.inAll).map((m) => m.name);
  return [`usage: weft bench all [options]`, '', allSummary(), ...(skipped.length ? [`not in all: ${skipped.join(', ')} (run alone)`] : []), '', ...COMMON_USAGE].join('\n');
}

/** The flags every mode of `all` takes (same type in each), which `all` passes to all of them. */
function sharedFlags(): OptionSpecs {
  const inAll = benchModes().filter((m) => m.inAll);
  const shared: OptionSpecs = {};
  for (const [flag, spec] of Object.entries(inAll[0]?.flags ?? {})) {
    if (inAll.every((m) => m.flags?.[flag]?.type === spec.type)) shared[flag] = spec;
  }
  return shared;
}

/** `weft bench green --child MODE`: one run of the green benchmark in a fresh process (internal). */
const GREEN_CHILD: CommandSpec = {
  name: 'weft bench green --child',
  usage: () => 'usage: weft bench green --child bare|green|green-sync --tasks N --delay MS   (internal: one run of `weft bench green`)',
  options: { child: { type: 'string' }, tasks: { type: 'string' }, delay: { type: 'string' } },
};

async function runGreenChildCommand(argv: string[]): Promise<number> {
  const { values } = parseCommand(GREEN_CHILD, argv);
  const child = values.child;
  if (child !== 'bare' && child !== 'green' && child !== 'green-sync') throw new UsageError(`--child expects bare, green or green-sync, got ${JSON.stringify(child)}`, GREEN_CHILD.usage());
  const args = values as BenchArgs;
  await runGreenChild(child, checked(GREEN_CHILD, () => intOption(args, 'tasks', 1_000_000)), checked(GREEN_CHILD, () => intOption(args, 'delay', 10)));
  return 0;
}

/** A BenchOptionError (a value the mode cannot run with) becomes the usage error it is. */
function checked<T>(spec: CommandSpec, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof BenchOptionError) throw new UsageError(error.message, spec.usage());
    throw error;
  }
}

async function checkedAsync<T>(spec: CommandSpec, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof BenchOptionError) throw new UsageError(error.message, spec.usage());
    throw error;
  }
}

/** `all`'s flags: an unknown one is most often a mode's, so the error says what `all` takes. */
function allFlags(spec: CommandSpec, argv: string[]): ReturnType<typeof parseCommand> {
  try {
    return parseCommand(spec, argv);
  } catch (error) {
    if (!(error instanceof UsageError) || !/^Unknown option/.test(error.message)) throw error;
    const shared = Object.keys(sharedFlags()).map((f) => `--${f}`);
    throw new UsageError(`${error.message} (\`bench all\` takes the common flags${shared.length ? ` and ${shared.join(', ')}` : ''}; a mode's own flags go with that mode alone)`, error.usage);
  }
}

/** --out / --html: a file name whose directory exists, checked now rather than after the run. */
function fileOption(spec: CommandSpec, value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined;
  const file = String(value);
  if (file.trim() === '') throw new UsageError(`--${flag} expects a file name`, spec.usage());
  const dir = dirname(resolve(file));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--${flag}: no such directory ${dirname(file)}`, spec.usage());
  if (existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`--${flag}: ${file} is a directory; give a file name`, spec.usage());
  return file;
}

interface Ran {
  mode: string;
  report: BenchReport;
  noise: Noise;
  /** How long the mode ran. */
  seconds: number;
}

export async function runBench(argv: string[]): Promise<number> {
  const named = argv[0] !== undefined && !argv[0].startsWith('-');
  const rest = named ? argv.slice(1) : argv;
  if (!named && rest.some((arg) => arg === '--help' || arg === '-h')) {
    console.log(benchHelp());
    return 0;
  }
  const name = named ? argv[0]! : DEFAULT_MODE;
  if (name === 'green' && rest.some((arg) => arg === '--child' || arg.startsWith('--child='))) return runGreenChildCommand(rest);

  const all = name === 'all';
  const single = all ? undefined : benchMode(name);
  if (!all && !single) throw new UsageError(`unknown mode ${JSON.stringify(name)}`, modesUsage());
  const selected = all ? benchModes().filter((m) => m.inAll) : [single!];
  const spec: CommandSpec = {
    name: `weft bench ${name}`,
    usage: all ? allUsage : () => modeUsage(single!),
    options: { ...COMMON_FLAGS, ...(all ? sharedFlags() : single!.flags ?? {}) },
  };
  const parsed = all ? allFlags(spec, rest) : parseCommand(spec, rest);
  if (parsed.help) {
    console.log(spec.usage());
    return 0;
  }
  const values = parsed.values as BenchArgs;
  const out = fileOption(spec, values.out, 'out');
  const html = fileOption(spec, values.html, 'html');
  const context: BenchContext = { all };
  for (const mode of selected) await checkedAsync(spec, async () => mode.prepare?.(values, context));

  const json = values.json === true;
  const color = wantsColor();
  const progress = new Progress(progressStyle(values.quiet === true));
  setBenchProgress(progress);
  // weft's own log lines in this process (a worker lost, a reconnect) go above the live line
  // instead of through it. (Worker processes the cluster starts write to stderr themselves.)
  // Warnings and errors only: the workers a benchmark starts and stops are not news.
  setLogger(consoleLogger({ level: 'warn', write: (line) => progress.above(line) }));
  // With --json, stdout is the JSON alone: what `all` says goes to stderr.
  const say = (text: string) => (json ? values.quiet !== true && console.error(text) : console.log(text));
  if (all) say(allHeader(selected.length));

  const ran: Ran[] = [];
  const failed: string[] = [];
  for (const [index, mode] of selected.entries()) {
    progress.mode(mode.name, all ? index + 1 : undefined, selected.length);
    const before = loadAverage();
    const started = performance.now();
    let report: BenchReport;
    try {
      report = await checkedAsync(spec, () => mode.run(values, context));
    } catch (error) {
      progress.clear();
      // One mode failing does not cost `all` the others; alone, the error is the command's.
      if (!all) throw error;
      failed.push(mode.name);
      console.error(`weft bench all: ${mode.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    progress.clear();
    const noise = judgeNoise(report.spread, before, loadAverage());
    const seconds = (performance.now() - started) / 1000;
    if (!json) printReport(report, { noise, color, seconds });
    ran.push({ mode: mode.name, report, noise, seconds });
  }

  if (all) say(`\n${allClosing(ran)}`);
  const data = all ? ran.map(withVerdicts) : withVerdicts(ran[0]!);
  const text = `${JSON.stringify(data, null, 2)}\n`;
  if (json) process.stdout.write(text);
  const meta = out !== undefined || html !== undefined ? benchMetadata() : undefined; // what the figures were measured with
  if (out !== undefined) writeFileSync(out, `${JSON.stringify(withMetadata(data, meta!), null, 2)}\n`);
  if (html !== undefined) writeFileSync(html, renderHtml(ran.map((r) => r.report), meta));
  if (failed.length) {
    console.error(`weft bench all: ${failed.length} of ${selected.length} modes failed (${failed.join(', ')})`);
    return 1;
  }
  return 0;
}

/** What `all` runs, at what sizes, and what it leaves out. */
function allHeader(count: number): string {
  const skipped = benchModes().filter((m) => !m.inAll).map((m) => m.name);
  return [
    `weft bench all: ${count} modes in turn, each at the reduced sizes \`all\` runs (its title gives them; run a mode alone for its full size)`,
    ...(skipped.length ? [`not in all: ${skipped.join(', ')} (run ${skipped.length === 1 ? 'it' : 'each'} alone: \`weft bench ${skipped[0]} --help\`)`] : []),
  ].join('\n');
}

/** `all`'s last line: how long, how many goals met, which modes were too noisy to trust. */
function allClosing(ran: Ran[]): string {
  const total = ran.reduce((sum, r) => sum + r.seconds, 0);
  const goals = ran.flatMap((r) => r.report.goals ?? []);
  const noisy = ran.filter((r) => r.noise.noisy).map((r) => r.mode);
  return `weft bench all: ${ran.length} modes in ${formatSeconds(total)}; ${goals.filter((g) => g.met).length} of ${goals.length} goals met${noisy.length ? `; noisy: ${noisy.join(', ')}` : ''}`;
}

/** The mode's figures, and the verdicts and noise judged on them, as --json and --out give them. */
function withVerdicts({ mode, report, noise, seconds }: Ran): Record<string, unknown> {
  return {
    mode,
    ...(report.data as Record<string, unknown>),
    goals: report.goals ?? [],
    noisy: noise.noisy,
    spread: noise.spread,
    noiseThreshold: NOISE_THRESHOLD,
    loadAverage: noise.loadAverage,
    cores: noise.cores,
    elapsedSeconds: Math.round(seconds * 10) / 10,
  };
}
