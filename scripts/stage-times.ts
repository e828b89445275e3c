/**
 * The compute time of a run, stage by stage, from the run records in the cache: for every instance
 * the plan holds (same flags as `linea status`), the seconds its cached result took when it ran.
 * Prints a markdown table (instances, sum, longest) for docs/results; the wall time is what the
 * run itself printed.
 *
 *   node --import tsx scripts/stage-times.ts --preset claims
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', 'bin', 'linea.js');
const linea = <T>(args: string[]): T =>
  JSON.parse(execFileSync(process.execPath, [BIN, ...args, '--json'], { encoding: 'utf8', maxBuffer: 1 << 28 })) as T;

const flags = process.argv.slice(2);
const status = linea<{ stages: { id: string; stage: string; key: string | null; state: string }[] }>([
  'status',
  ...flags,
]);
const missing = status.stages.filter((s) => s.state !== 'cached');
if (missing.length) {
  process.stderr.write(`${missing.length} instances are not cached (e.g. ${missing[0]!.id}): run them first\n`);
  process.exit(1);
}
const byStage = new Map<string, { instances: number; sum: number; max: number }>();
for (const stage of [...new Set(status.stages.map((s) => s.stage))]) {
  const keys = new Set(status.stages.filter((s) => s.stage === stage).map((s) => s.key));
  const { runs } = linea<{ runs: { key: string; seconds: number }[] }>(['log', stage, ...flags]);
  const seconds = new Map(runs.map((r) => [r.key, r.seconds]));
  const times = [...keys].map((k) => seconds.get(k!) ?? 0);
  byStage.set(stage, {
    instances: keys.size,
    sum: times.reduce((a, b) => a + b, 0),
    max: Math.max(...times),
  });
}
const rows = [...byStage].sort((a, b) => b[1].sum - a[1].sum);
const total = rows.reduce((a, [, r]) => a + r.sum, 0);
const fmt = (s: number) => (s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);
process.stdout.write('| stage | runs | compute time | longest |\n|---|---|---|---|\n');
for (const [stage, r] of rows) process.stdout.write(`| ${stage} | ${r.instances} | ${fmt(r.sum)} | ${fmt(r.max)} |\n`);
process.stdout.write(`| **all** | ${status.stages.length} | **${fmt(total)}** | |\n`);
