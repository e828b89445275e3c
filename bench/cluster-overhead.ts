/**
 * What running on Slurm costs, on this machine, in one invocation, beside its peers:
 *   1. N trivial independent stages (default 100) through the `pool` executor (--jobs 2), through
 *      `slurm --jobs 8` (the node advertises 8 CPUs; --local-below 0) with its pilot jobs (the
 *      default), as one job each (--pilot-idle 0) and grouped (--group 10), and through
 *      Snakemake's generic cluster mode on the same Slurm
 *      (`--cluster "sbatch --parsable -p debug -c 1 --mem 100" --jobs 8`; its `--slurm` mode needs
 *      slurmdbd accounting);
 *   2. the experiment's smoke preset in process and through slurm --jobs 4 (with its driver-side
 *      stages and --local-below as they come): pilots, a job each, and --group 4;
 *   3. with --default, the default pipeline in process and through slurm --jobs 2: pilots and a
 *      job each (~15 minutes).
 * Every sample on a fresh cache and, for slurm, a fresh Postgres run index (a database of its
 * own): no sample inherits another's history, which --local-below would read as estimates, so
 * each is a first run. Every sample is printed beside the median, and the ratios against
 * Snakemake and against the in-process run.
 *
 *   sudo scripts/services.sh up            # Slurm, Postgres, Redis on loopback
 *   node --import tsx bench/cluster-overhead.ts [--stages 100] [--repeats 1] [--skip-smoke] [--default] [--json]
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
    repeats: { type: 'string', default: '1' },
    'skip-smoke': { type: 'boolean' },
    default: { type: 'boolean' },
    json: { type: 'boolean' },
  },
});
const N = Number(values.stages);
const REPEATS = Number(values.repeats);
const log = (s: string) => process.stderr.write(`${s}\n`);
const BIN = join(REPO, 'bin', 'linea.js');

const servicesDir = process.env.LINEA_SERVICES_DIR ?? '/tmp/linea-services';
const env: Record<string, string> = { CI: 'true', OMP_WAIT_POLICY: 'PASSIVE' };
for (const [, name, value] of readFileSync(join(servicesDir, 'env.sh'), 'utf8').matchAll(/^export (\w+)=(.*)$/gm)) {
  env[name!] = value!;
}

function trivialProject(dir: string): void {
  mkdirSync(join(dir, 'stages'), { recursive: true });
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

function snakemakeProject(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const outputs = JSON.stringify(Array.from({ length: N }, (_, i) => `out/leaf${i}.txt`));
  writeFileSync(
    join(dir, 'Snakefile'),
    `rule all:\n    input: ${outputs}\n\nrule leaf:\n    output: "out/leaf{i}.txt"\n    shell: "echo {wildcards.i} > {output}"\n`,
  );
}

async function timedCommand(cmd: string, args: string[], cwd: string): Promise<number> {
  const t0 = performance.now();
  // stdin from /dev/null: bash (Snakemake's job shell) reads ~/.bashrc when stdin is a socket.
  const result = await execa(cmd, args, { cwd, env, reject: false, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${result.stderr}`);
  return (performance.now() - t0) / 1000;
}

interface Row {
  readonly name: string;
  readonly samples: number[];
  readonly median: number;
}
const rows: Row[] = [];
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** REPEATS samples of one case, each in a fresh directory made by `prepare`. */
async function measure(
  name: string,
  prepare: (dir: string) => void,
  cmd: string,
  args: (dir: string) => string[],
  cwd?: string,
) {
  const samples: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const dir = join(scratch, `${name.replace(/\W+/g, '-')}-${r}`);
    prepare(dir);
    const argv = await Promise.all(args(dir).map((a) => (a === FRESH_INDEX ? freshIndex() : a)));
    samples.push(await timedCommand(cmd, argv, cwd ?? dir));
    log(`${name}: ${samples.at(-1)!.toFixed(1)} s`);
  }
  rows.push({ name, samples, median: median(samples) });
}

const linea = [process.execPath, '--single-threaded-gc', BIN] as const;
/** Stands for a fresh run index in a case's arguments: each sample gets a database of its own. */
const FRESH_INDEX = '<fresh postgres index>';
const slurmArgs = (...more: string[]) => ['--executor', 'slurm', '--index', FRESH_INDEX, ...more];
const databases: string[] = [];
/** A new database on the test server, for one sample's run index; all are dropped at the end. */
async function freshIndex(): Promise<string> {
  const uri = new URL(env.LINEA_TEST_POSTGRES!);
  const name = `linea_bench_${process.pid}_${databases.length}`;
  await psql(uri, `CREATE DATABASE ${name}`);
  databases.push(name);
  uri.pathname = `/${name}`;
  return uri.href;
}
async function psql(uri: URL, sql: string): Promise<void> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: uri.href });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
const hasSnakemake =
  (await execa('snakemake', ['--version'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0;
if (!hasSnakemake) log('snakemake not installed (apt-get install snakemake): its row is skipped');

const scratch = mkdtempSync(join(tmpdir(), 'linea-cluster-bench-'));
try {
  const trivial = (name: string, more: string[]) =>
    measure(name, trivialProject, linea[0], () => [...linea.slice(1), 'run', ...more]);
  await trivial(`${N} trivial: pool --jobs 2`, ['--executor', 'pool', '--jobs', '2']);
  await trivial(`${N} trivial: slurm --jobs 8, pilots`, slurmArgs('--jobs', '8', '--local-below', '0'));
  await trivial(
    `${N} trivial: slurm --jobs 8 --pilot-idle 0, a job each`,
    slurmArgs('--jobs', '8', '--pilot-idle', '0', '--local-below', '0'),
  );
  await trivial(
    `${N} trivial: slurm --jobs 8 --group 10`,
    slurmArgs('--jobs', '8', '--group', '10', '--local-below', '0'),
  );
  if (hasSnakemake)
    await measure(`${N} trivial: snakemake --cluster sbatch --jobs 8`, snakemakeProject, 'snakemake', () => [
      '--cluster',
      'sbatch --parsable -p debug -c 1 --mem 100',
      '--jobs',
      '8',
      '--latency-wait',
      '5',
      '--quiet',
      'all',
    ]);
  const experiment = (name: string, more: string[]) =>
    measure(
      name,
      (dir) => mkdirSync(dir, { recursive: true }),
      linea[0],
      (dir) => [...linea.slice(1), 'run', '--cache-dir', join(dir, 'cache'), '--out', join(dir, 'results'), ...more],
      // The experiment runs in the repository (its pipeline.ts); only the cache is fresh.
      REPO,
    );
  const inRepo = experiment;
  if (!values['skip-smoke']) {
    await inRepo('smoke preset: in process', ['--preset', 'smoke']);
    await inRepo('smoke preset: slurm --jobs 4, pilots', ['--preset', 'smoke', ...slurmArgs('--jobs', '4')]);
    await inRepo('smoke preset: slurm --jobs 4 --pilot-idle 0', [
      '--preset',
      'smoke',
      ...slurmArgs('--jobs', '4', '--pilot-idle', '0'),
    ]);
    await inRepo('smoke preset: slurm --jobs 4 --group 4', [
      '--preset',
      'smoke',
      ...slurmArgs('--jobs', '4', '--group', '4'),
    ]);
  }
  if (values.default) {
    await inRepo('default pipeline: in process', []);
    await inRepo('default pipeline: slurm --jobs 2, pilots', slurmArgs('--jobs', '2'));
    await inRepo('default pipeline: slurm --jobs 2 --pilot-idle 0', slurmArgs('--jobs', '2', '--pilot-idle', '0'));
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
  for (const name of databases) await psql(new URL(env.LINEA_TEST_POSTGRES!), `DROP DATABASE IF EXISTS ${name}`);
}

const find = (prefix: string) => rows.find((r) => r.name.startsWith(prefix))?.median;
const ratios: Record<string, number> = {};
const snake = find(`${N} trivial: snakemake`);
for (const r of rows.filter((r) => r.name.startsWith(`${N} trivial: slurm`)))
  if (snake) ratios[`snakemake / (${r.name})`] = snake / r.median;
for (const family of ['smoke preset', 'default pipeline']) {
  const local = find(`${family}: in process`);
  for (const r of rows.filter((r) => r.name.startsWith(`${family}: slurm`)))
    if (local) ratios[`(${r.name}) / in process`] = r.median / local;
}

if (values.json) process.stdout.write(`${JSON.stringify({ repeats: REPEATS, rows, ratios })}\n`);
else {
  const table = ['| case | samples (s) | median |', '|---|---|---|'];
  for (const r of rows)
    table.push(`| ${r.name} | ${r.samples.map((x) => x.toFixed(1)).join(', ')} | **${r.median.toFixed(1)} s** |`);
  table.push('', '| ratio | value |', '|---|---|');
  for (const [name, value] of Object.entries(ratios)) table.push(`| ${name} | ${value.toFixed(2)}× |`);
  process.stdout.write(`${table.join('\n')}\n`);
}
