/**
 * `weft dead-letters --broker URL [--queue Q] [list|retry ID|purge]`: the tasks of a
 * broker-backed cluster that failed their last attempt, kept on the server in `<queue>.dead`.
 */
import { listDeadLetters, purgeDeadLetters, retryDeadLetter, type ServerDeadLetter } from '../cluster/durable/dead-letters.js';
import type { ParsedArgs } from './args.js';
import { table } from './table.js';

export function deadLettersHelp(): string {
  return [
    'weft dead-letters --broker URL [--queue Q] [list [--limit N] [--json] | retry ID | purge]',
    '      tasks that failed their last attempt (and bodies that were not tasks), kept in Q.dead',
    '      list (default) shows them and leaves them; retry runs one again from attempt 1; purge removes all',
  ].join('\n');
}

export async function runDeadLetters({ options, positionals }: ParsedArgs): Promise<number> {
  if (options.help) {
    console.log(deadLettersHelp());
    return 0;
  }
  const broker = options.broker;
  if (typeof broker !== 'string') throw new Error(`--broker URL is required\n\n${deadLettersHelp()}`);
  const queue = typeof options.queue === 'string' ? options.queue : 'weft';
  const [, action = 'list', id] = positionals;
  if (action === 'list') {
    const limit = options.limit === undefined ? undefined : Number(options.limit);
    if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new Error(`--limit expects a positive integer, got ${JSON.stringify(options.limit)}`);
    const letters = await listDeadLetters(broker, queue, { limit });
    console.log(options.json ? JSON.stringify(letters.map(plain), null, 2) : formatLetters(queue, letters));
    return 0;
  }
  if (action === 'retry') {
    if (!id) throw new Error(`retry needs the task id: weft dead-letters --broker URL retry ID\n\n${deadLettersHelp()}`);
    const found = await retryDeadLetter(broker, queue, id);
    console.log(found ? `task ${id} was sent to run again` : `no dead letter with id ${id} in ${queue}.dead`);
    return found ? 0 : 1;
  }
  if (action === 'purge') {
    console.log(`removed ${await purgeDeadLetters(broker, queue)} dead letter(s) from ${queue}.dead`);
    return 0;
  }
  throw new Error(`unknown action ${JSON.stringify(action)}: expected list, retry ID or purge\n\n${deadLettersHelp()}`);
}

function plain(letter: ServerDeadLetter): Record<string, unknown> {
  return { ...letter, error: errorText(letter.error), failedAt: letter.failedAt.toISOString() };
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function formatLetters(queue: string, letters: ServerDeadLetter[]): string {
  if (letters.length === 0) return `${queue}.dead is empty`;
  const rows = letters.map((l) => [l.id ?? '(not a task)', l.task ?? '', String(l.attempts), l.failedAt.toISOString(), errorText(l.error).slice(0, 120)]);
  return [`${letters.length} dead letter(s) in ${queue}.dead`, ...table(['id', 'task', 'attempts', 'failed at', 'error'], rows)].join('\n');
}
