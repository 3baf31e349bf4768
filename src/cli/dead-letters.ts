/**
 * `weft dead-letters --broker URL [--queue Q] [list|retry ID|purge]`: the tasks of a
 * broker-backed cluster that failed their last attempt, kept on the server in `<queue>.dead`.
 */
import type { ServerDeadLetter } from '../cluster/durable/dead-letters.js';
import { intValue, parseCommand, required, stringValue, UsageError, type CommandSpec } from './command.js';
import { table } from './table.js';

export function deadLettersHelp(): string {
  return [
    'usage: weft dead-letters --broker URL [--queue Q] [list [--limit N] [--json] | retry ID | purge]',
    '      tasks that failed their last attempt (and bodies that were not tasks), kept in Q.dead',
    '      list (default) shows them and leaves them; retry runs one again from attempt 1; purge removes all',
    '      --broker URL      the cluster\'s broker (redis://, amqp://, nats://, weft://) (required)',
    '      --queue Q         the queue whose dead letters to read (default weft)',
  ].join('\n');
}

const spec: CommandSpec = {
  name: 'weft dead-letters',
  usage: deadLettersHelp,
  options: { broker: { type: 'string' }, queue: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  positionals: 2,
};

export async function runDeadLetters(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommand(spec, argv);
  if (help) {
    console.log(deadLettersHelp());
    return 0;
  }
  const [action = 'list', id] = positionals;
  if (!['list', 'retry', 'purge'].includes(action)) throw new UsageError(`unknown action ${JSON.stringify(action)}: expected list, retry ID or purge`, spec.usage());
  if (action === 'retry' && !id) throw new UsageError('retry needs the task id: weft dead-letters --broker URL retry ID', spec.usage());
  if (action !== 'retry' && id !== undefined) throw new UsageError(`unexpected argument '${id}'`, spec.usage());
  if (action !== 'list' && (values.limit !== undefined || values.json)) throw new UsageError('--limit and --json go with list', spec.usage());
  const limit = intValue(spec, values, 'limit');
  const broker = required(spec, values, 'broker', '--broker URL');
  const queue = stringValue(values, 'queue') ?? 'weft';
  const { listDeadLetters, purgeDeadLetters, retryDeadLetter } = await import('../cluster/durable/dead-letters.js');
  if (action === 'list') {
    const letters = await listDeadLetters(broker, queue, { limit });
    console.log(values.json ? JSON.stringify(letters.map(plain), null, 2) : formatLetters(queue, letters));
    return 0;
  }
  if (action === 'retry') {
    const found = await retryDeadLetter(broker, queue, id!);
    console.log(found ? `task ${id} was sent to run again` : `no dead letter with id ${id} in ${queue}.dead`);
    return found ? 0 : 1;
  }
  console.log(`removed ${await purgeDeadLetters(broker, queue)} dead letter(s) from ${queue}.dead`);
  return 0;
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
