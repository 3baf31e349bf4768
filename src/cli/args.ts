/** A small argv parser: `--key value`, `--key=value`, boolean `--flag`, and positionals. */
export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | boolean | undefined>;
}

/** Options that never take a value, whatever follows them. */
const FLAGS = new Set(['json', 'help', 'peers', 'version']);

export function parseArgs(argv: string[]): ParsedArgs {
  const positionals: string[] = [];
  const options: Record<string, string | boolean | undefined> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') options.help = true;
    else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq > 0) options[arg.slice(2, eq)] = arg.slice(eq + 1);
      else {
        const key = arg.slice(2);
        const next = argv[i + 1];
        if (!FLAGS.has(key) && next !== undefined && !next.startsWith('--')) {
          options[key] = next;
          i++;
        } else options[key] = true;
      }
    } else positionals.push(arg);
  }
  return { positionals, options };
}
