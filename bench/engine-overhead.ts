/**
 * Engine overhead against Snakemake (Debian `snakemake`), on the same machine in the same
 * invocation, over a generated DAG of N trivial stages: 10 roots, then stage i reads stages i-1
 * and i-10, and each writes one small file.
 *
 *   node --import tsx bench/engine-overhead.ts [--stages 1000,10000] [--repeats 3] [--json] [--without-snakemake]
 *
 * linea is measured as a user installs it: the linea-engine package (`npm run build:engine`,
 * compiled JavaScript), linked into a project outside the repository. For each N, both tools first
 * build everything (not timed); then, median of --repeats:
 *   - no-op: linea `run` and `status`, the long way ($LINEA_REPLAY=0) and replayed from their
 *     settled records (what a user gets from the second all-cached command on); snakemake's run
 *     with nothing to do and `-n` (dry run);
 *   - one change in the middle (the first N only): a param of stage N/2 changes (a new value each
 *     repeat) and every stage downstream reads a value that changes with it, so the whole cone
 *     (N/2 stages) runs again in both tools; the other half is looked up.
 * One more linea run and status the long way with $LINEA_PROFILE print where the time goes, phase by phase.
 */
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { linkNodeModules, REPO } from '../test/helpers/project.ts';

const { values } = parseArgs({
  options: {
    stages: { type: 'string', default: '1000,10000' },
    repeats: { type: 'string', default: '3' },
    json: { type: 'boolean' },
    /** linea alone (Snakemake needs ~20 min per invocation at 10,000 stages here). */
    'without-snakemake': { type: 'boolean' },
  },
});
const SIZES = values.stages.split(',').map(Number);
const REPEATS = Number(values.repeats);
const log = (s: string) => process.stderr.write(`${s}\n`);

/** The stage whose param changes in the "one change" case, and its salt (0: unchanged). */
const middle = (n: number) => Math.floor(n / 2);

function lineaProject(dir: string, n: number, salt: number): void {
  mkdirSync(join(dir, 'stages'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
  writeFileSync(
    join(dir, 'stages', 'steps.ts'),
    `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, input } from 'linea-engine';
const params = z.object({ i: z.number().int(), salt: z.number().default(0) });
type Out = { i: number; v: number };
export const root = defineStage({ name: 'root', params, run: (ctx): Out => { writeFileSync(join(ctx.outDir, 'out.txt'), String(ctx.params.i)); return { i: ctx.params.i, v: ctx.params.salt }; } });
// v carries a change to every stage downstream, so a change reruns its whole cone (no early cutoff).
export const step = defineStage({
  name: 'step', params, inputs: { a: input<Out>(), b: input<Out>() },
  run: (ctx): Out => {
    const v = (ctx.params.salt + ctx.inputs.a.value.v + ctx.inputs.b.value.v) % 1000003;
    writeFileSync(join(ctx.outDir, 'out.txt'), ctx.params.i + ' ' + v);
    return { i: ctx.params.i, v };
  },
});
`,
  );
  writeFileSync(
    join(dir, 'pipeline.ts'),
    `import { definePipeline, type Node } from 'linea-engine';
import { root, step } from './stages/steps.ts';
export default definePipeline({
  build(p) {
    const nodes: Node<{ i: number; v: number }>[] = [];
    for (let i = 0; i < ${n}; i++) {
      const params = i === ${middle(n)} ? { i, salt: ${salt} } : { i };
      nodes.push(i < 10
        ? p.add(root, {}, { id: 's' + i, params })
        : p.add(step, { a: nodes[i - 1]!, b: nodes[i - 10]! }, { id: 's' + i, params }));
    }
  },
});
`,
  );
}

function snakemakeProject(dir: string, n: number, salt: number): void {
  const rules = [`rule all:\n    input: ${JSON.stringify(Array.from({ length: n }, (_, i) => `out/s${i}.txt`))}\n`];
  rules.push(`def deps(w):\n    i = int(w.i)\n    return [] if i < 10 else [f"out/s{i-1}.txt", f"out/s{i-10}.txt"]\n`);
  rules.push(
    `rule step:\n    input: deps\n    output: "out/s{i}.txt"\n    params: salt=lambda w: ${salt} if int(w.i) == ${middle(n)} else 0\n    shell: "echo {wildcards.i} {params.salt} > {output}"\n`,
  );
  writeFileSync(join(dir, 'Snakefile'), rules.join('\n'));
}

async function once(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const t0 = performance.now();
  // stdin from /dev/null: node's default stdin pipe is a socket, and bash (Snakemake's job shell)
  // reads ~/.bashrc when stdin is a socket, which costs each job whatever that file runs.
  const result = await execa(cmd, args, { cwd, reject: false, stdin: 'ignore', env: { CI: 'true', ...env } });
  if (result.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${result.stderr}`);
  return { seconds: (performance.now() - t0) / 1000, stderr: result.stderr };
}

/** Seconds of REPEATS runs, in order; `before` prepares each one (untimed). */
async function timed(
  cmd: string,
  args: string[],
  cwd: string,
  before?: (r: number) => void,
  env: Record<string, string> = {},
): Promise<number[]> {
  const samples: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    before?.(r);
    samples.push((await once(cmd, args, cwd, env)).seconds);
  }
  return samples;
}

interface Row {
  readonly stages: number;
  readonly case: 'no-op' | 'one change';
  readonly command: string;
  /** The median of `samples`. */
  readonly seconds: number;
  /** Each run's seconds, in the order they ran. */
  readonly samples: readonly number[];
}
const rows: Row[] = [];
/** Milliseconds per phase of one profiled no-op `run` and `status`, per DAG size. */
const breakdown: Record<string, Record<string, number>> = {};

const built = await execa('npm', ['run', 'build:engine'], { cwd: REPO, reject: false });
if (built.exitCode !== 0) throw new Error(`npm run build:engine failed:\n${built.stderr}`);
const bin = join(REPO, 'packages', 'engine', 'bin', 'linea.js');
const hasSnakemake =
  !values['without-snakemake'] &&
  (await execa('snakemake', ['--version'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0;
if (!hasSnakemake)
  log(
    values['without-snakemake']
      ? 'snakemake rows skipped (--without-snakemake)'
      : 'snakemake not installed (apt-get install snakemake): peer rows skipped',
  );

for (const [index, n] of SIZES.entries()) {
  const withChange = index === 0;
  const linea = mkdtempSync(join(tmpdir(), 'linea-bench-'));
  const snake = mkdtempSync(join(tmpdir(), 'snakemake-bench-'));
  try {
    lineaProject(linea, n, 0);
    linkNodeModules(linea);
    symlinkSync(join(REPO, 'packages', 'engine'), join(linea, 'node_modules', 'linea-engine'));
    log(`linea: building ${n} stages…`);
    await once(process.execPath, [bin, 'run'], linea);
    const add = (c: Row['case'], command: string, samples: number[]) =>
      rows.push({ stages: n, case: c, command, seconds: median(samples), samples });
    // The long way (load, expand, look every key up), then what a user gets once a no-op has
    // settled: the answer replayed while nothing it read changed (src/engine/schedule/settled.ts).
    // Files written in the last 2 s are not trusted by stat, so the record waits them out.
    const longWay = { LINEA_REPLAY: '0' };
    add('no-op', 'linea run, the long way', await timed(process.execPath, [bin, 'run'], linea, undefined, longWay));
    add(
      'no-op',
      'linea status, the long way',
      await timed(process.execPath, [bin, 'status'], linea, undefined, longWay),
    );
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    for (const command of ['run', 'status']) await once(process.execPath, [bin, command], linea);
    add('no-op', 'linea run', await timed(process.execPath, [bin, 'run'], linea));
    add('no-op', 'linea status', await timed(process.execPath, [bin, 'status'], linea));
    // Where a no-op's time goes the long way (src/engine/core/profile.ts): one more of each with LINEA_PROFILE set.
    for (const command of ['run', 'status']) {
      const { stderr } = await once(process.execPath, [bin, command], linea, { ...longWay, LINEA_PROFILE: '1' });
      const line = stderr.split('\n').find((l) => l.startsWith('linea-profile '));
      if (line)
        breakdown[`${n} ${command}`] = JSON.parse(line.slice('linea-profile '.length)) as Record<string, number>;
    }
    if (withChange) {
      add(
        'one change',
        'linea run',
        await timed(process.execPath, [bin, 'run'], linea, (r) => lineaProject(linea, n, r + 1)),
      );
    }
    if (hasSnakemake) {
      snakemakeProject(snake, n, 0);
      log(`snakemake: building ${n} jobs…`);
      await once('snakemake', ['--cores', '2', '--quiet', 'all'], snake);
      add('no-op', 'snakemake run', await timed('snakemake', ['--cores', '2', '--quiet', 'all'], snake));
      add('no-op', 'snakemake -n', await timed('snakemake', ['-n', '--cores', '2', '--quiet', 'all'], snake));
      if (withChange) {
        const samples = await timed('snakemake', ['--cores', '2', '--quiet', 'all'], snake, (r) =>
          snakemakeProject(snake, n, r + 1),
        );
        add('one change', 'snakemake run', samples);
      }
    }
  } finally {
    rmSync(linea, { recursive: true, force: true });
    rmSync(snake, { recursive: true, force: true });
  }
}

function median(samples: readonly number[]): number {
  return [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
}

const find = (n: number, c: Row['case'], command: string) =>
  rows.find((r) => r.stages === n && r.case === c && r.command === command)?.seconds;
/** Snakemake's time over linea's for the same case: above 1, linea is faster. */
const ratios = rows
  .filter((r) => r.command.startsWith('linea'))
  .flatMap((r) => {
    const peer = find(r.stages, r.case, 'snakemake run');
    return peer ? [{ stages: r.stages, case: r.case, command: r.command, ratio: peer / r.seconds }] : [];
  });

if (values.json) {
  process.stdout.write(`${JSON.stringify({ repeats: REPEATS, rows, ratios, breakdown })}\n`);
} else {
  process.stdout.write(`engine overhead (median of ${REPEATS}; the change case reruns stage N/2 and its cone):\n`);
  for (const r of rows)
    process.stdout.write(
      `  ${String(r.stages).padStart(6)} stages  ${r.case.padEnd(10)}  ${r.command.padEnd(14)} ${r.seconds.toFixed(3)} s  (${r.samples.map((x) => x.toFixed(3)).join(', ')})\n`,
    );
  for (const r of ratios)
    process.stdout.write(
      `  snakemake run / ${r.command} (${r.stages} stages, ${r.case}) = ${r.ratio.toFixed(2)}× (above 1: linea is faster)\n`,
    );
  for (const [what, phases] of Object.entries(breakdown)) {
    const parts = Object.entries(phases).map(([name, ms]) => `${name} ${ms} ms`);
    process.stdout.write(`  where linea ${what}'s time goes: ${parts.join(', ')}\n`);
  }
}
