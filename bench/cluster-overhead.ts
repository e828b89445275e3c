/**
 * What running on Slurm costs per job, on this machine, in one invocation:
 *   1. N trivial independent stages (default 100) through the `slurm` executor (the node
 *      advertises 8 CPUs; --jobs 8 queued at once) and through the `pool` executor (--jobs 2);
 *   2. the experiment's smoke preset run locally (in process) and through slurm.
 * Each on a fresh cache, with a Postgres run index for slurm. Prints wall times and the overhead
 * per job: (slurm − pool) / N for the trivial stages.
 *
 *   sudo scripts/services.sh up            # Slurm, Postgres, Redis on loopback
 *   node --import tsx bench/cluster-overhead.ts [--stages 100] [--skip-smoke] [--json]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { linkNodeModules, REPO } from '../test/helpers/project.ts';

const { values } = parseArgs({
  options: {
    stages: { type: 'string', default: '100' },
    'skip-smoke': { type: 'boolean' },
    json: { type: 'boolean' },
  },
});
const N = Number(values.stages);
const log = (s: string) => process.stderr.write(`${s}\n`);
const BIN = join(REPO, 'bin', 'linea.js');

const servicesDir = process.env.LINEA_SERVICES_DIR ?? '/tmp/linea-services';
const env: Record<string, string> = { CI: 'true', OMP_WAIT_POLICY: 'PASSIVE' };
for (const [, name, value] of readFileSync(join(servicesDir, 'env.sh'), 'utf8').matchAll(/^export (\w+)=(.*)$/gm)) {
  env[name!] = value!;
}

function trivialProject(dir: string): void {
  mkdirSync(join(dir, 'stages'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
  writeFileSync(
    join(dir, 'stages', 'leaf.ts'),
    `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage } from 'linea';
export const leaf = defineStage({
  name: 'leaf', params: z.object({ i: z.number().int() }),
  run: (ctx) => { writeFileSync(join(ctx.outDir, 'out.txt'), String(ctx.params.i)); return { i: ctx.params.i }; },
});
`,
  );
  writeFileSync(
    join(dir, 'pipeline.ts'),
    `import { definePipeline } from 'linea';
import { leaf } from './stages/leaf.ts';
export default definePipeline({
  name: 'leaves-${Date.now()}',
  build(p) { for (let i = 0; i < ${N}; i++) p.add(leaf, {}, { id: 'leaf' + i, params: { i } }); },
});
`,
  );
  linkNodeModules(dir);
}

async function wall(args: string[], cwd: string): Promise<number> {
  const t0 = performance.now();
  const result = await execa(process.execPath, ['--single-threaded-gc', BIN, ...args], { cwd, env, reject: false });
  if (result.exitCode !== 0) throw new Error(`linea ${args.join(' ')} failed:\n${result.stderr}`);
  return (performance.now() - t0) / 1000;
}

const results: Record<string, number> = {};
const scratch = mkdtempSync(join(tmpdir(), 'linea-cluster-bench-'));
try {
  for (const executor of ['pool', 'slurm'] as const) {
    const dir = join(scratch, `trivial-${executor}`);
    mkdirSync(dir);
    trivialProject(dir);
    const args =
      executor === 'slurm'
        ? ['run', '--executor', 'slurm', '--jobs', '8', '--index', env.LINEA_TEST_POSTGRES!]
        : ['run', '--executor', 'pool', '--jobs', '2'];
    results[`trivial.${executor}`] = await wall(args, dir);
    log(`${N} trivial stages, ${executor}: ${results[`trivial.${executor}`]!.toFixed(1)} s`);
  }
  results['trivial.overheadPerJob'] = (results['trivial.slurm']! - results['trivial.pool']!) / N;
  if (!values['skip-smoke']) {
    for (const executor of ['local', 'slurm'] as const) {
      const cache = join(scratch, `smoke-${executor}`);
      const args = ['run', '--preset', 'smoke', '--cache-dir', cache, '--out', join(cache, 'results')];
      if (executor === 'slurm') args.push('--executor', 'slurm', '--jobs', '4', '--index', env.LINEA_TEST_POSTGRES!);
      results[`smoke.${executor}`] = await wall(args, REPO);
      log(`smoke preset, ${executor}: ${results[`smoke.${executor}`]!.toFixed(1)} s`);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

if (values.json) process.stdout.write(`${JSON.stringify(results)}\n`);
else {
  const lines = [
    `${N} trivial stages: pool (--jobs 2) ${results['trivial.pool']!.toFixed(1)} s, slurm (--jobs 8, 8-CPU node) ${results['trivial.slurm']!.toFixed(1)} s`,
    `slurm overhead per job: ${results['trivial.overheadPerJob']!.toFixed(2)} s`,
    ...(results['smoke.local'] !== undefined
      ? [`smoke preset: local ${results['smoke.local']!.toFixed(1)} s, slurm ${results['smoke.slurm']!.toFixed(1)} s`]
      : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
