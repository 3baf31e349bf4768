import { writeFileSync } from 'node:fs';
import { printReport, type BenchReport } from '../bench/harness.js';
import { renderHtml } from '../bench/html-report.js';
import { runGreenChild } from '../bench/green.js';
import { benchMode, benchModes, intOption } from '../bench/registry.js';
import type { ParsedArgs } from './args.js';

export function benchHelp(): string {
  const lines = ['weft bench <mode> [options]   (modes run side by side in one process and print a table)', '', 'modes:'];
  for (const mode of benchModes()) {
    lines.push(`  ${mode.name.padEnd(10)} ${mode.summary}`);
    for (const option of mode.options) lines.push(`      ${option}`);
  }
  lines.push('  all        every mode above in turn', '', 'common options:', '  --json           print the figures as JSON instead of a table', '  --out FILE       also write the JSON to FILE', '  --html FILE      also write an HTML report with charts to FILE');
  return lines.join('\n');
}

export async function runBench({ positionals, options }: ParsedArgs): Promise<number> {
  const name = positionals[1] ?? 'pi';
  if (options.help) {
    console.log(benchHelp());
    return 0;
  }
  if (name === 'green' && typeof options.child === 'string') {
    await runGreenChild(options.child === 'bare' || options.child === 'green-sync' ? options.child : 'green', intOption(options, 'tasks', 1_000_000), intOption(options, 'delay', 10));
    return 0;
  }
  const selected = name === 'all' ? benchModes().filter((m) => m.inAll) : [benchMode(name)];
  if (selected.some((m) => m === undefined)) {
    console.error(`weft bench: unknown mode ${JSON.stringify(name)}\n\n${benchHelp()}`);
    return 2;
  }
  const reports: BenchReport[] = [];
  for (const mode of selected) {
    const report = await mode!.run(options, { all: name === 'all' });
    reports.push(report);
    if (!options.json) printReport(report);
  }
  const data = reports.length === 1 ? reports[0]!.data : reports.map((r) => r.data);
  if (options.json) console.log(JSON.stringify(data, null, 2));
  if (typeof options.out === 'string') writeFileSync(options.out, `${JSON.stringify(data, null, 2)}\n`);
  if (typeof options.html === 'string') writeFileSync(options.html, renderHtml(reports));
  return 0;
}
