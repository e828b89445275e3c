/**
 * Wall time of the default pipeline (what `npm start` runs) from an empty cache, split by stage,
 * then the all-cached rerun.
 *
 *   node --import tsx bench/default-run.ts [--backend onednn] [--json]
 *
 * The run goes into a temporary cache and results directory, so the repository's own cache is
 * neither used nor touched. A stage's seconds are the sum over its instances of their own run
 * times (`linea run --json`); stages run one at a time in-process, so they add up to about the
 * wall time less the engine's own work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { REPO, type RunJson } from '../test/helpers/project.ts';

const { values } = parseArgs({ options: { backend: { type: 'string' }, json: { type: 'boolean' } } });
const scratch = mkdtempSync(join(tmpdir(), 'linea-default-run-'));

async function run(): Promise<{ seconds: number; result: RunJson }> {
  const args = [
    '--single-threaded-gc',
    join(REPO, 'bin', 'linea.js'),
    'run',
    '--json',
    '--cache-dir',
    join(scratch, 'cache'),
    '--out',
    join(scratch, 'results'),
    ...(values.backend ? ['--backend', values.backend] : []),
  ];
  const t0 = performance.now();
  const child = await execa(process.execPath, args, { cwd: REPO, reject: false, env: { CI: 'true' } });
  const seconds = (performance.now() - t0) / 1000;
  if (child.exitCode !== 0) throw new Error(`linea run failed (exit ${child.exitCode}):\n${child.stderr.slice(-2000)}`);
  return { seconds, result: JSON.parse(child.stdout) as RunJson };
}

try {
  const first = await run();
  const again = await run();
  const byStage = new Map<string, { instances: number; seconds: number }>();
  for (const s of first.result.stages) {
    const entry = byStage.get(s.stage) ?? { instances: 0, seconds: 0 };
    entry.instances++;
    entry.seconds += s.seconds;
    byStage.set(s.stage, entry);
  }
  const stages = [...byStage]
    .map(([stage, e]) => ({ stage, instances: e.instances, seconds: Math.round(e.seconds * 10) / 10 }))
    .sort((a, b) => b.seconds - a.seconds);
  const summary = {
    instances: first.result.stages.length,
    wallSeconds: Math.round(first.seconds * 10) / 10,
    cachedRerunSeconds: Math.round(again.seconds * 100) / 100,
    cachedRerunAllCached: again.result.stages.every((s) => s.status === 'cached'),
    stages,
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    const lines = [
      `default pipeline: ${summary.instances} instances, ${summary.wallSeconds} s wall from an empty cache; ` +
        `rerun ${summary.cachedRerunSeconds} s (${summary.cachedRerunAllCached ? 'all cached' : 'NOT all cached'})`,
      '| stage | instances | seconds | share |',
      '|---|---|---|---|',
      ...stages.map(
        (s) =>
          `| ${s.stage} | ${s.instances} | ${s.seconds} | ${((100 * s.seconds) / summary.wallSeconds).toFixed(1)} % |`,
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
