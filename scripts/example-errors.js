// Preloaded into every example run by scripts/example.js: an example that cannot connect, log
// in or find a package ends with one line saying so, not a stack trace. Other errors keep
// Node's report.
const ONE_LINE = new Set(['AuthenticationError', 'ConnectionClosedError', 'TimeoutError', 'MissingDependencyError']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'ETIMEDOUT']);

process.on('uncaughtException', (error) => {
  const name = error instanceof Error ? error.name : '';
  const code = error instanceof Error ? error.code : undefined;
  if (ONE_LINE.has(name) || NETWORK.has(code)) {
    process.stderr.write(`${process.env.WEFT_EXAMPLE ?? 'example'}: ${name}: ${error.message}\n`);
  } else {
    process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  }
  process.exit(1);
});
