// The `weft` command line is strict: an unknown flag, a flag without its value or a bad value
// stops at once with one line and that command's usage (exit 2); --help, --version and
// `COMMAND --help` answer without starting anything; `status --watch` redraws until Ctrl-C (off a terminal and on one).
import { runWeft, type WeftRun } from './run-weft.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ClusterExecutor } from '../../src/index.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const PKG = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
const COMMANDS = ['bench', 'serve', 'worker', 'status', 'dead-letters', 'broker'];

/** Runs `weft ARGS` to its exit (at most 20 s); the cases of a test run side by side. */
function weft(args: string[], env: Record<string, string | undefined> = {}): Promise<WeftRun> {
  const env2 = { ...process.env, ...env };
  if (!('WEFT_AUTHKEY' in env)) delete env2.WEFT_AUTHKEY;
  return runWeft(args, { env: env2 });
}

/** A usage error: exit code 2, nothing on stdout, one line naming the command, then its usage. */
async function assertUsageError(args: string[], reason: RegExp, env: Record<string, string | undefined> = {}): Promise<void> {
  const run = await weft(args, env);
  assert.equal(run.status, 2, `weft ${args.join(' ')} exited ${run.status}:\n${run.stdout}${run.stderr}`);
  assert.equal(run.stdout, '');
  const [first, blank, usage] = run.stderr.split('\n');
  const command = COMMANDS.includes(args[0]!) ? `weft ${args[0]}` : 'weft';
  assert.ok(first!.startsWith(`${command}: `), `first line: ${first}`);
  assert.match(first!, reason);
  assert.equal(blank, '');
  assert.match(usage!, command === 'weft' ? /^weft: / : new RegExp(`^usage: ${command} `));
}

describe('weft command line', () => {
  test('--help fits a screen and lists every command; --version and -v print the version', async () => {
    for (const flag of ['--help', '-h']) {
      const run = await weft([flag]);
      assert.equal(run.status, 0);
      const lines = run.stdout.trimEnd().split('\n');
      assert.ok(lines.length <= 24, `${lines.length} lines`);
      for (const name of COMMANDS) assert.match(run.stdout, new RegExp(`^  ${name} `, 'm'));
    }
    for (const flag of ['--version', '-v']) {
      const run = await weft([flag]);
      assert.equal(run.status, 0);
      assert.equal(run.stdout.trim(), PKG.version);
    }
  });

  test('COMMAND --help gives that command\'s flags and starts nothing', async () => {
    await Promise.all(COMMANDS.filter((n) => n !== 'bench').map(async (name) => {
      const run = await weft([name, '--help']);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^usage: weft ${name} `));
      assert.deepEqual((await weft(['help', name])).stdout, run.stdout);
    }));
    const bench = await weft(['bench', '--help']);
    assert.equal(bench.status, 0, bench.stderr);
    assert.match(bench.stdout, /weft bench/);
  });

  test('unknown flags, flags without values and bad values fail at once with the usage', async () => {
    await Promise.all([
      assertUsageError(['--bogus'], /unknown option '--bogus'/),
      assertUsageError(['nope'], /unknown command "nope"/),
      ...COMMANDS.filter((n) => n !== 'bench').map((name) => assertUsageError([name, '--no-such-flag'], /Unknown option '--no-such-flag'/)),
      // `--worker 4` once ran with the default number of workers.
      assertUsageError(['worker', '--connect', 'tcp://127.0.0.1:1', '--worker', '4'], /Unknown option '--worker'$/),
      assertUsageError(['worker', '--connect', 'tcp://127.0.0.1:1', '--concurency', '4'], /Unknown option '--concurency' \(did you mean --concurrency\?\)$/),
      assertUsageError(['worker', '--connect'], /'--connect <value>' argument missing/),
      assertUsageError(['worker', '--connect', 'tcp://127.0.0.1:1', '--tasks', CLI, '--pool', 'gpu'], /--pool expects one of threads, processes, green, inline, got "gpu"/),
      assertUsageError(['worker', '--connect', 'tcp://127.0.0.1:1', '--tasks', CLI, '--concurrency', '0'], /--concurrency expects a positive integer, got "0"/),
      assertUsageError(['worker', '--broker', 'redis://127.0.0.1', '--tasks', CLI, '--authkey-file', CLI], /--authkey-file goes with --connect/),
      assertUsageError(['serve', '--module', CLI, '--port', '70000'], /--port expects an integer from 0 to 65535, got "70000"/, { WEFT_AUTHKEY: 'k' }),
      assertUsageError(['serve', '--module', CLI, '--zmq=yes'], /'--zmq' does not take an argument/),
      assertUsageError(['serve', 'extra'], /unexpected argument 'extra'/),
      assertUsageError(['status', '--connect', 'tcp://127.0.0.1:1', '--interval', '500'], /--interval goes with --watch/),
      assertUsageError(['status', '--connect', 'tcp://127.0.0.1:1', '--watch', '--interval', 'fast'], /--interval expects an integer of at least 100/),
      assertUsageError(['dead-letters', '--broker', 'redis://127.0.0.1', 'list', 'extra'], /unexpected argument 'extra'/),
      assertUsageError(['dead-letters', '--broker', 'redis://127.0.0.1', 'retry'], /retry needs the task id/),
      assertUsageError(['dead-letters', '--broker', 'redis://127.0.0.1', 'list', '--limit=-3'], /--limit expects a positive integer/),
      assertUsageError(['dead-letters', '--broker', 'redis://127.0.0.1', '--limit', '--json'], /'--limit' argument is ambiguous/),
      assertUsageError(['broker', '--port', 'x'], /--port expects an integer from 0 to 65535/, { WEFT_AUTHKEY: 'k' }),
    ]);
  });

  test('checks come in the order a user fixes them: the module before the authkey', async () => {
    await Promise.all([
      assertUsageError(['serve'], /--module FILE is required/),
      assertUsageError(['serve', '--module', 'nope.js'], /--module: no such file nope\.js/),
      assertUsageError(['serve', '--module', CLI], /an authkey is required/),
      assertUsageError(['worker', '--connect', 'tcp://127.0.0.1:1', '--tasks', 'nope.js'], /--tasks: no such file nope\.js/),
      assertUsageError(['worker', '--connect', 'tcp://127.0.0.1:1', '--tasks', CLI], /an authkey is required/),
      assertUsageError(['broker', '--authkey-file', '/nonexistent/key'], /--authkey-file: no such file/),
    ]);
  });

  test('status --watch prints the workers table once per interval off a terminal and stops on SIGINT', async () => {
    const key = 'watch-key';
    await using cluster = new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey: key });
    await cluster.start();
    const child = spawn(process.execPath, [CLI, 'status', '--connect', cluster.url, '--watch', '--interval', '100'], { env: { ...process.env, WEFT_AUTHKEY: key }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const exited = once(child, 'exit');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`waited 15 s for three status tables from weft status --watch; got:\n${out}`)), 15_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk;
        if ((out.match(/^workers: 0 /gm) ?? []).length >= 3) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.doesNotMatch(out, /\x1b\[2J/, 'off a terminal the screen is not cleared');
    assert.match(out, /every 100 ms, Ctrl-C to stop/);
  });

  // util-linux's `script` runs the command on a pseudo-terminal, so stdout.isTTY is true there.
  // It runs it through $SHELL -c; `exec` makes weft the only process in the terminal's foreground
  // group, else a shell such as dash gets the Ctrl-C too and exits with 130 whatever weft did.
  test('status --watch on a terminal redraws in place: the screen is cleared before each table', async () => {
    const key = 'watch-tty-key';
    await using cluster = new ClusterExecutor({ listen: { host: '127.0.0.1', port: 0 }, authkey: key });
    await cluster.start();
    const command = [process.execPath, CLI, 'status', '--connect', cluster.url, '--watch', '--interval', '100'].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qfec', `exec ${command}`, '/dev/null'], { env: { ...process.env, WEFT_AUTHKEY: key }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const exited = once(child, 'exit');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`waited 15 s for three redraws from weft status --watch on a terminal; got:\n${JSON.stringify(out)}`)), 15_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk;
        if ((out.match(/\x1b\[H\x1b\[2J[^\n]*every 100 ms, Ctrl-C to stop\r?\nworkers: 0 /g) ?? []).length >= 3) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    // Ctrl-C typed on the terminal: the line discipline sends SIGINT to weft.
    child.stdin.write('\x03');
    const [code] = await exited;
    assert.equal(code, 0, `weft status exited with ${code} after Ctrl-C:\n${JSON.stringify(out)}`);
  });
});
