/**
 * Engine overhead: a no-op rerun (everything cached) of a generated DAG of N trivial stages,
 * in linea and in Snakemake (Debian `snakemake`) on the same machine in the same invocation.
 *
 *   node --import tsx bench/engine-overhead.ts [--stages 1000] [--repeats 3] [--json]
 *
 * The DAG: 10 roots, then stage i reads stages i-1 and i-10. Each stage writes one small file.
 * Both tools first build everything (not timed), then the no-op commands are timed (median):
 * linea `run` and `status`; snakemake `-n` (dry run) and a real run with nothing to do. One more
 * linea run and status with $LINEA_PROFILE print where the time goes, phase by phase.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { linkNodeModules, REPO } from '../test/helpers/project.ts';

const { values } = parseArgs({
  options: {
    stages: { type: 'string', default: '1000' },
    repeats: { type: 'string', default: '3' },
    json: { type: 'boolean' },
  },
});
const N = Number(values.stages);
const REPEATS = Number(values.repeats);
const log = (s: string) => process.stderr.write(`${s}\n`);

const deps = (i: number) => (i < 10 ? [] : [i - 1, i - 10]);

function lineaProject(dir: string): void {
  mkdirSync(join(dir, 'stages'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
  writeFileSync(
    join(dir, 'stages', 'steps.ts'),
    `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, input } from 'linea';
const params = z.object({ i: z.number().int() });
export const root = defineStage({ name: 'root', params, run: (ctx) => { writeFileSync(join(ctx.outDir, 'out.txt'), String(ctx.params.i)); return { i: ctx.params.i }; } });
export const step = defineStage({
  name: 'step', params, inputs: { a: input<{ i: number }>(), b: input<{ i: number }>() },
  run: (ctx) => { writeFileSync(join(ctx.outDir, 'out.txt'), String(ctx.params.i)); return { i: ctx.params.i }; },
});
`,
  );
  writeFileSync(
    join(dir, 'pipeline.ts'),
    `import { definePipeline, type Node } from 'linea';
import { root, step } from './stages/steps.ts';
export default definePipeline({
  build(p) {
    const nodes: Node<{ i: number }>[] = [];
    for (let i = 0; i < ${N}; i++) {
      nodes.push(i < 10
        ? p.add(root, {}, { id: 's' + i, params: { i } })
        : p.add(step, { a: nodes[i - 1]!, b: nodes[i - 10]! }, { id: 's' + i, params: { i } }));
    }
  },
});
`,
  );
  linkNodeModules(dir);
}

function snakemakeProject(dir: string): void {
  const rules = [`rule all:\n    input: ${JSON.stringify(Array.from({ length: N }, (_, i) => `out/s${i}.txt`))}\n`];
  rules.push(`def deps(w):\n    i = int(w.i)\n    return [] if i < 10 else [f"out/s{i-1}.txt", f"out/s{i-10}.txt"]\n`);
  rules.push(`rule step:\n    input: deps\n    output: "out/s{i}.txt"\n    shell: "echo {wildcards.i} > {output}"\n`);
  writeFileSync(join(dir, 'Snakefile'), rules.join('\n'));
}

async function timed(cmd: string, args: string[], cwd: string): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    const result = await execa(cmd, args, { cwd, reject: false, env: { CI: 'true' } });
    if (result.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${result.stderr}`);
    samples.push((performance.now() - t0) / 1000);
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
}

const rows: { tool: string; command: string; seconds: number }[] = [];
/** Milliseconds per phase of one profiled no-op `run` and `status`. */
const breakdown: Record<string, Record<string, number>> = {};
const linea = mkdtempSync(join(tmpdir(), 'linea-bench-'));
const snake = mkdtempSync(join(tmpdir(), 'snakemake-bench-'));
try {
  lineaProject(linea);
  const bin = join(REPO, 'bin', 'linea.js');
  log(`linea: building ${N} stages…`);
  const build = await execa(process.execPath, [bin, 'run'], { cwd: linea, reject: false, env: { CI: 'true' } });
  if (build.exitCode !== 0) throw new Error(`linea build failed:\n${build.stderr}`);
  rows.push({
    tool: 'linea',
    command: 'linea run (no-op)',
    seconds: await timed(process.execPath, [bin, 'run'], linea),
  });
  rows.push({ tool: 'linea', command: 'linea status', seconds: await timed(process.execPath, [bin, 'status'], linea) });
  // Where a no-op run's time goes (src/engine/profile.ts): one more run with LINEA_PROFILE set.
  for (const command of ['run', 'status']) {
    const profiled = await execa(process.execPath, [bin, command], {
      cwd: linea,
      reject: false,
      env: { CI: 'true', LINEA_PROFILE: '1' },
    });
    const line = profiled.stderr.split('\n').find((l) => l.startsWith('linea-profile '));
    if (line) breakdown[command] = JSON.parse(line.slice('linea-profile '.length)) as Record<string, number>;
  }

  const hasSnakemake =
    (await execa('snakemake', ['--version'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0;
  if (hasSnakemake) {
    snakemakeProject(snake);
    log(`snakemake: building ${N} jobs…`);
    await execa('snakemake', ['--cores', '2', '--quiet', 'all'], { cwd: snake });
    rows.push({
      tool: 'snakemake',
      command: 'snakemake -n (dry run)',
      seconds: await timed('snakemake', ['-n', '--cores', '2', '--quiet', 'all'], snake),
    });
    rows.push({
      tool: 'snakemake',
      command: 'snakemake (no-op run)',
      seconds: await timed('snakemake', ['--cores', '2', '--quiet', 'all'], snake),
    });
  } else {
    log('snakemake not installed (apt-get install snakemake): peer rows skipped');
  }
} finally {
  rmSync(linea, { recursive: true, force: true });
  rmSync(snake, { recursive: true, force: true });
}

const lineaRun = rows.find((r) => r.command.startsWith('linea run'))!.seconds;
const snakeRun = rows.find((r) => r.command === 'snakemake (no-op run)')?.seconds;
if (values.json) {
  process.stdout.write(
    `${JSON.stringify({ stages: N, repeats: REPEATS, rows, breakdown, ratio: snakeRun ? snakeRun / lineaRun : null })}\n`,
  );
} else {
  process.stdout.write(`no-op rerun of a ${N}-stage DAG (median of ${REPEATS}):\n`);
  for (const r of rows) process.stdout.write(`  ${r.command.padEnd(26)} ${r.seconds.toFixed(2)} s\n`);
  for (const [command, phases] of Object.entries(breakdown)) {
    const parts = Object.entries(phases).map(([name, ms]) => `${name} ${ms} ms`);
    process.stdout.write(`  where linea ${command}'s time goes: ${parts.join(', ')}\n`);
  }
  if (snakeRun)
    process.stdout.write(
      `snakemake no-op / linea no-op = ${(snakeRun / lineaRun).toFixed(2)}× (above 1: linea is faster)\n`,
    );
}
