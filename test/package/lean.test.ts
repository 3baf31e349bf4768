// `npm i weft` for pools and RPC pulls only what they need: the broker clients are optional peer
// dependencies, never imported statically, loaded through src/peers/load.ts when a URL of their
// kind is opened; a missing one is MissingDependencyError naming the package.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MissingDependencyError } from '../../src/index.js';
import { missingOr } from '../../src/peers/load.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PEERS = ['ioredis', 'amqplib', 'nats', 'zeromq', 'kafkajs', '@aws-sdk/client-sqs'];

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? jsFiles(path) : path.endsWith('.js') ? [path] : [];
  });
}

/** Bare specifiers of the static `import … from 'x'`, `import 'x'` and `export … from 'x'` of a compiled module. */
function staticImports(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm)) found.push(match[1] ?? match[2]!);
  return found;
}

describe('a lean install', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;

  test('the broker clients are optional peer dependencies (and devDependencies for the tests), not dependencies', () => {
    for (const name of PEERS) {
      assert.equal(pkg.dependencies?.[name], undefined, `${name} is a dependency`);
      assert.ok(pkg.peerDependencies?.[name], `${name} is not a peer dependency`);
      assert.deepEqual(pkg.peerDependenciesMeta?.[name], { optional: true });
      assert.ok(pkg.devDependencies?.[name], `${name} is not a devDependency (the tests need it)`);
    }
    assert.deepEqual(Object.keys(pkg.dependencies ?? {}), ['msgpackr']);
  });

  test('no compiled module imports a broker client statically', () => {
    const offenders: string[] = [];
    for (const file of jsFiles(join(ROOT, 'dist'))) {
      for (const specifier of staticImports(readFileSync(file, 'utf8'))) {
        if (PEERS.some((peer) => specifier === peer || specifier.startsWith(`${peer}/`))) offenders.push(`${file.slice(ROOT.length)} imports ${specifier}`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  test('the msgpackr build weft imports never loads the native msgpackr-extract', () => {
    const specifiers = new Set(jsFiles(join(ROOT, 'dist')).flatMap((file) => staticImports(readFileSync(file, 'utf8')).filter((s) => s.startsWith('msgpackr'))));
    assert.deepEqual([...specifiers], ['msgpackr/index-no-eval']);
    const resolved = createRequire(join(ROOT, 'dist', 'index.js')).resolve('msgpackr/index-no-eval');
    assert.doesNotMatch(readFileSync(resolved, 'utf8'), /msgpackr-extract/);
  });

  test('a package that is not installed becomes MissingDependencyError naming it; other failures are kept', async () => {
    const notFound = await import('weft-no-such-package-' + 'x').catch((error: unknown) => error);
    const missing = missingOr(notFound, 'weft-no-such-package-x', 'redis:// broker URLs');
    assert.ok(missing instanceof MissingDependencyError);
    assert.equal(missing.packageName, 'weft-no-such-package-x');
    assert.equal(missing.code, 'weft:missing-dependency');
    assert.match(missing.message, /^redis:\/\/ broker URLs needs the weft-no-such-package-x package, .*: npm i weft-no-such-package-x$/);
    // A package that is there but fails to load (or another package missing inside it) is not "missing".
    assert.equal(missingOr(notFound, 'ioredis', 'redis:// broker URLs'), notFound);
    const broken = new Error('boom');
    assert.equal(missingOr(broken, 'ioredis', 'x'), broken);
  });
});
