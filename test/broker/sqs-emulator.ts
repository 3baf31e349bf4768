/**
 * fauxqs (an SNS/SQS/S3 emulator in JavaScript, pinned to 1.9.2: 2.x needs Node 22.5) for the
 * SQS tests, in the test process on a free port; stopped when the file's tests are done.
 */
import { after } from 'node:test';
import { startFauxqs } from 'fauxqs';

export interface Emulator {
  port: number;
  /** An sqs:// URL with a fresh queue prefix. */
  url: string;
}

export async function startEmulator(): Promise<Emulator> {
  // The SDK warns once per process that its 2027 releases will need Node 22.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const server = await startFauxqs({ port: 0, logger: false, host: 'localhost' });
  after(() => server.stop());
  return { port: server.port, url: `sqs://127.0.0.1:${server.port}/weft-test-` };
}
