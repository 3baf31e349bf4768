/** A small argv parser: `--key value`, `--key=value`, boolean `--flag`, and positionals. */
export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | boolean | undefined>;
  /** Every value of each option given more than once or not (`--tasks a --tasks b`), in order. */
  all: Record<string, string[]>;
}

/** Options that never take a value, whatever follows them. */
const FLAGS = new Set(['json', 'help', 'peers', 'version', 'allow-functions', 'zmq']);

export function parseArgs(argv: string[]): ParsedArgs {
  const positionals: string[] = [];
  const options: Record<string, string | boolean | undefined> = {};
  const all: Record<string, string[]> = {};
  const set = (key: string, value: string | boolean) => {
    options[key] = value;
    if (typeof value === 'string') (all[key] ??= []).push(value);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') options.help = true;
    else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq > 0) set(arg.slice(2, eq), arg.slice(eq + 1));
      else {
        const key = arg.slice(2);
        const next = argv[i + 1];
        if (!FLAGS.has(key) && next !== undefined && !next.startsWith('--')) {
          set(key, next);
          i++;
        } else set(key, true);
      }
    } else positionals.push(arg);
  }
  return { positionals, options, all };
}
