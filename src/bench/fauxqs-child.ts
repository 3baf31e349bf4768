/**
 * fauxqs (an SQS emulator in JavaScript) in a process of its own for `weft bench broker`:
 * prints `fauxqs listening on PORT` and runs until killed. fauxqs is a devDependency of weft;
 * where it is not installed this exits with a message saying so.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const specifier = 'fauxqs';
let fauxqs: { startFauxqs(options: { port: number; logger: boolean }): Promise<{ port: number }> };
try {
  fauxqs = await import(specifier);
} catch (error) {
  console.error(`fauxqs is not installed (npm install --save-dev fauxqs): ${(error as Error).message}`);
  process.exit(2);
}
const server = await fauxqs.startFauxqs({ port: 0, logger: false });
console.log(`fauxqs listening on ${server.port}`);
// The benchmark talks to it over an IPC channel only to be outlived by nothing: gone, it exits.
process.channel?.unref();
process.once('disconnect', () => process.exit(0));
