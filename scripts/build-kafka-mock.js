#!/usr/bin/env node
// Builds librdkafka's mock Kafka cluster (scripts/kafka-mock-cluster.c) into build/, for the Kafka
// tests and `weft bench broker`: cc -O2 -o build/kafka-mock-cluster scripts/kafka-mock-cluster.c -lrdkafka
// (needs a C compiler and librdkafka's headers: Debian's librdkafka-dev).
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const binary = join(root, 'build', 'kafka-mock-cluster');
mkdirSync(dirname(binary), { recursive: true });
const partial = `${binary}.${process.pid}`;
const cc = process.env.CC ?? 'cc';
const result = spawnSync(cc, ['-O2', '-o', partial, join(root, 'scripts', 'kafka-mock-cluster.c'), '-lrdkafka'], { stdio: 'inherit' });
if (result.status !== 0) {
  console.error(`could not build the mock Kafka cluster with ${cc} (needs a C compiler and librdkafka-dev)`);
  process.exit(1);
}
renameSync(partial, binary);
console.log(`built ${binary}`);
