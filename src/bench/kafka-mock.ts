/**
 * librdkafka's mock Kafka cluster (scripts/kafka-mock-cluster.c) in a child process, for the
 * Kafka tests and `weft bench broker`: there is no Kafka server package for these machines. It
 * speaks the Kafka protocol for real but is a test double inside librdkafka, not a production
 * server (docs/brokers.md says what it lacks). The program is built into build/ with the C
 * compiler and librdkafka's headers (Debian: librdkafka-dev), never committed as a binary.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface KafkaMock {
  /** `host:port` of its broker(s). */
  bootstrap: string;
  /** kafka://bootstrap */
  url: string;
  /** Ends the process (as a server that goes away); resolves once it has exited. */
  stop(): Promise<void>;
}

/** The package's root: the nearest folder up from this module with a package.json (src/ and dist/ sit at different depths). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find weft\'s package root');
    dir = parent;
  }
  return dir;
}

export function kafkaMockPaths(): { source: string; binary: string } {
  const root = packageRoot();
  return { source: join(root, 'scripts', 'kafka-mock-cluster.c'), binary: join(root, 'build', 'kafka-mock-cluster') };
}

/**
 * Builds the mock cluster program when it is missing or older than its source:
 * `cc -O2 -o build/kafka-mock-cluster scripts/kafka-mock-cluster.c -lrdkafka`.
 */
export function buildKafkaMock(): string {
  const { source, binary } = kafkaMockPaths();
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  mkdirSync(dirname(binary), { recursive: true });
  // Built under a name of its own and renamed: test files built in parallel never run half a binary.
  const partial = `${binary}.${process.pid}`;
  const cc = process.env.CC ?? 'cc';
  const result = spawnSync(cc, ['-O2', '-o', partial, source, '-lrdkafka'], { encoding: 'utf8' });
  if (result.status !== 0) {
    const why = result.error ? result.error.message : result.stderr.trim();
    throw new Error(`cannot build librdkafka's mock Kafka cluster (${cc} ... -lrdkafka; needs a C compiler and librdkafka-dev): ${why}`);
  }
  renameSync(partial, binary);
  return binary;
}

/** Starts the mock cluster; `binary` defaults to the built one (see buildKafkaMock). */
export async function startKafkaMock(options: { binary?: string; brokers?: number; timeoutMs?: number } = {}): Promise<KafkaMock> {
  const binary = options.binary ?? kafkaMockPaths().binary;
  if (!existsSync(binary)) throw new Error(`librdkafka's mock Kafka cluster is not built (${binary}): run \`node scripts/build-kafka-mock.js\` (needs cc and librdkafka-dev)`);
  const timeoutMs = options.timeoutMs ?? 10_000;
  // stdin is a pipe it reads: should this process die, the pipe closes and the mock exits too.
  const child = spawn(binary, [String(options.brokers ?? 1)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  try {
    const bootstrap = await new Promise<string>((resolve, reject) => {
      let out = '';
      timer = setTimeout(() => reject(new Error(`the mock Kafka cluster did not start within ${timeoutMs} ms`)), timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        const match = /^bootstrap (\S+)$/m.exec(out);
        if (match) resolve(match[1]!);
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the mock Kafka cluster exited with code ${code} before listening`)));
    });
    return {
      bootstrap,
      url: `kafka://${bootstrap.split(',')[0]}${bootstrap.includes(',') ? `?brokers=${bootstrap.split(',').slice(1).join(',')}` : ''}`,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
