#!/usr/bin/env node
/**
 * The `weft` command. Each subcommand is a module of its own that parses its own flags
 * (command.ts: strict); this file reads the top-level flags, dispatches, and turns a usage error
 * into one line plus that command's usage (exit 2) and any other failure into one line (exit 1).
 */
import { existsSync, readFileSync } from 'node:fs';
import { UsageError } from './command.js';

interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

// Each command is imported when it runs: `weft --help` or a usage error answers without loading
// the benchmarks, the cluster or the brokers.
const commands: Record<string, Command> = {
  bench: {
    summary: 'benchmarks, side by side in one run (`weft bench --help` lists the modes)',
    run: async (argv) => (await import('./bench.js')).runBench(argv),
  },
  serve: { summary: "serve a module's exports over RPC (tcp://, tls://, zmq+tcp://)", run: async (argv) => (await import('./serve.js')).runServe(argv) },
  worker: { summary: "run a cluster's tasks (--connect to a scheduler, or --broker URL)", run: async (argv) => (await import('./worker.js')).runWorker(argv) },
  status: { summary: "a cluster's workers and queues (--watch to follow them)", run: async (argv) => (await import('./status.js')).runStatus(argv) },
  'dead-letters': { summary: "list, retry or purge a broker cluster's failed tasks", run: async (argv) => (await import('./dead-letters.js')).runDeadLetters(argv) },
  broker: { summary: 'run a message broker for weft:// URLs', run: async (argv) => (await import('./broker.js')).runBroker(argv) },
  dashboard: { summary: "a live page of a cluster's workers, queues and tasks", run: async (argv) => (await import('./dashboard.js')).runDashboard(argv) },
};

export function help(): string {
  const lines = ['weft: concurrency and distributed computing for Node.js', '', 'usage: weft COMMAND [options]', '       weft COMMAND --help   that command\'s options', '       weft --version', '', 'commands:'];
  for (const [name, command] of Object.entries(commands)) lines.push(`  ${name.padEnd(13)} ${command.summary}`);
  return lines.join('\n');
}

/** weft's version, from the package.json above this file (dist/cli/, or build/src/cli/ in the tests). */
function version(): string {
  for (let dir = new URL('./', import.meta.url); dir.pathname !== '/'; dir = new URL('../', dir)) {
    const file = new URL('package.json', dir);
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  // Top-level flags come before the command; everything after the command is the command's.
  const at = argv.findIndex((arg) => !arg.startsWith('-'));
  const top = at === -1 ? argv : argv.slice(0, at);
  for (const flag of top) {
    if (flag === '--version' || flag === '-v') {
      console.log(version());
      return 0;
    }
    if (flag !== '--help' && flag !== '-h') throw new UsageError(`unknown option '${flag}'`, help());
  }
  const name = at === -1 ? undefined : argv[at]!;
  if (name === undefined || name === 'help') {
    const about = name === 'help' ? argv[at + 1] : undefined;
    if (about !== undefined && commands[about]) return commands[about].run(['--help']);
    console.log(help());
    return 0;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`, help());
  return command.run(argv.slice(at + 1));
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    if (error instanceof UsageError) {
      const command = process.argv[2] && commands[process.argv[2]] ? `weft ${process.argv[2]}` : 'weft';
      console.error(`${command}: ${error.message}\n\n${error.usage}`);
      process.exitCode = 2;
      return;
    }
    console.error(`weft: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
