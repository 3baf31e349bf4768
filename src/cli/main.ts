#!/usr/bin/env node
/**
 * The `weft` command. Each subcommand is a module of its own; this file only dispatches.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParsedArgs } from './args.js';
import { benchHelp, runBench } from './bench.js';
import { brokerHelp, runBroker } from './broker.js';
import { deadLettersHelp, runDeadLetters } from './dead-letters.js';
import { runServe, serveHelp } from './serve.js';
import { runStatus, statusHelp } from './status.js';
import { runWorker, workerHelp } from './worker.js';

interface Command {
  summary: string;
  run(args: ParsedArgs): Promise<number>;
}

const commands: Record<string, Command> = {
  bench: { summary: 'run a benchmark (pi, green, all); `weft bench --help` for options', run: runBench },
  serve: { summary: "serve a module's exports over RPC; `weft serve --help` for options", run: runServe },
  worker: { summary: 'run a cluster\'s tasks (--connect or --broker); `weft worker --help` for options', run: runWorker },
  status: { summary: "print a cluster's workers and queues; `weft status --help` for options", run: runStatus },
  'dead-letters': { summary: 'list, retry or purge a broker cluster\'s failed tasks; `weft dead-letters --help`', run: runDeadLetters },
  broker: { summary: 'run a message broker for weft:// URLs; `weft broker --help` for options', run: runBroker },
};

function help(): string {
  const lines = ['weft: concurrency and distributed computing for Node.js', '', 'usage: weft <command> [options]', '', 'commands:'];
  for (const [name, command] of Object.entries(commands)) lines.push(`  ${name.padEnd(12)} ${command.summary}`);
  lines.push('', benchHelp(), '', serveHelp(), '', workerHelp(), '', statusHelp(), '', deadLettersHelp(), '', brokerHelp());
  return lines.join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const name = args.positionals[0];
  if (args.options.version) {
    console.log(version());
    return 0;
  }
  if (!name || name === 'help' || (args.options.help && !commands[name])) {
    console.log(help());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`weft: unknown command ${JSON.stringify(name)}\n\n${help()}`);
    return 2;
  }
  return command.run(args);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    console.error(`weft: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
