// A node:test reporter that runs beside the spec reporter and says where a long run is: every
// test that has been running longer than WEFT_TEST_SLOW_MS (default 30 s) is named once, with
// its file and suites, while it still runs; a test that times out is named again, with how long
// it ran. (The spec reporter prints a test only when it ends, so a hung test was silent until its
// timeout.) `test:dequeue` arrives from each file's process as the test starts.
import { Transform } from 'node:stream';

const SLOW_MS = Number(process.env.WEFT_TEST_SLOW_MS ?? 30_000);
const TICK_MS = Math.max(250, Math.min(5_000, SLOW_MS / 4));

/** key → { path, nesting, file, started, told } for every test and suite now running. */
const running = new Map();
/** file → names of the suites dequeued at each nesting level, to print a test's full path. */
const paths = new Map();

const keyOf = (data) => `${data.file ?? ''}\0${data.nesting}\0${data.name}`;
const shortFile = (file) => (file ?? '?').replace(`${process.cwd()}/`, '');

const reporter = new Transform({
  writableObjectMode: true,
  transform(event, _encoding, callback) {
    const { type, data } = event;
    if (type === 'test:dequeue' && data.file !== undefined && data.name !== data.file) {
      const path = paths.get(data.file) ?? [];
      path.length = data.nesting;
      path.push(data.name);
      paths.set(data.file, path);
      running.set(keyOf(data), { path: [...path], nesting: data.nesting, file: data.file, started: Date.now(), told: false });
    } else if (type === 'test:fail' && (data.name === data.file || data.file === undefined) && running.size > 0) {
      // A whole file timed out (--test-timeout applies to each file's process): name what was
      // still running in it.
      const file = data.file ?? data.name;
      const hung = leaves().filter((entry) => entry.file === file);
      for (const entry of running.values()) if (entry.file === file) running.delete(keyOf({ file, nesting: entry.nesting, name: entry.path.at(-1) }));
      if (hung.length > 0) {
        const lines = hung.map((entry) => `   still running after ${Math.round((Date.now() - entry.started) / 1000)} s: ${entry.path.join(' › ')}`);
        callback(null, `\n⏱  ${shortFile(file)} failed (${String(data.details?.error?.message ?? data.details?.error?.cause ?? '').split('\n')[0]}) while these tests ran:\n${lines.join('\n')}\n`);
        return;
      }
    } else if (type === 'test:pass' || type === 'test:fail') {
      const entry = running.get(keyOf(data));
      running.delete(keyOf(data));
      const error = data.details?.error;
      if (type === 'test:fail' && entry && (error?.failureType === 'testTimeoutFailure' || /timed out/.test(String(error?.message)))) {
        callback(null, `\n⏱  timed out after ${Math.round((Date.now() - entry.started) / 1000)} s: ${shortFile(entry.file)} › ${entry.path.join(' › ')}\n   ${String(error?.cause?.message ?? error?.message ?? '').split('\n')[0]}\n`);
        return;
      }
    }
    callback();
  },
});

/** The deepest running entries of each file: a suite is running as long as its slowest test. */
function leaves() {
  const out = [];
  for (const entry of running.values()) {
    const deeper = [...running.values()].some((other) => other.file === entry.file && other.nesting > entry.nesting && other.path.slice(0, entry.path.length).join('\0') === entry.path.join('\0'));
    if (!deeper) out.push(entry);
  }
  return out;
}

setInterval(() => {
  const now = Date.now();
  for (const entry of leaves()) {
    if (entry.told || now - entry.started < SLOW_MS) continue;
    entry.told = true;
    reporter.push(`⏳ still running after ${Math.round((now - entry.started) / 1000)} s: ${shortFile(entry.file)} › ${entry.path.join(' › ')}\n`);
  }
}, TICK_MS).unref();

export default reporter;
