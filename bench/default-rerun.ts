/**
 * What a researcher feels: an all-cached rerun of this repository's default pipeline (`npm start`
 * and `linea status` on the repository's own cache), phase by phase ($LINEA_PROFILE), beside
 * the same no-op on the 1,000-stage synthetic DAG of bench/engine-overhead.ts (the compiled
 * engine package, no heavy stages), in the same invocation. Every sample is printed beside the
 * median.
 *
 *   node --import tsx bench/default-rerun.ts [--repeats 5]
 *
 * The no-op run and status are each measured twice: replayed from their settled records (what
 * `npm start` does once a run has found everything cached), and the long way ($LINEA_REPLAY=0:
 * load the pipeline, expand, look every key up), whose phases say where the long way's time goes.
 *
 * The default pipeline must be computed once first: if `linea status` finds anything not cached,
 * the bench runs it (untimed) before measuring.
 */
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { REPO } from '../test/helpers/project.ts';

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '5' } } });
const REPEATS = Number(values.repeats);
const BIN = ['--single-threaded-gc', 'bin/linea.js'];
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function once(args: string[], env: Record<string, string> = {}) {
  const t0 = performance.now();
  const result = await execa(process.execPath, [...BIN, ...args], {
    cwd: REPO,
    reject: false,
    stdin: 'ignore',
    env: { CI: 'true', ...env },
  });
  if (result.exitCode !== 0) throw new Error(`linea ${args.join(' ')} failed:\n${result.stderr}`);
  return { ms: performance.now() - t0, stdout: result.stdout, stderr: result.stderr };
}

const status = JSON.parse((await once(['status', '--json'])).stdout) as { stages: { state: string }[] };
if (status.stages.some((s) => s.state !== 'cached')) {
  process.stderr.write('default pipeline not all cached: running it once first (untimed)…\n');
  await once(['run']);
}

// A `run` that settles (everything cached) leaves a record that the same command replays without
// loading the pipeline (src/engine/schedule/settled.ts): make sure there is one, and say if the
// replay did not happen (something the record depends on keeps changing).
for (const command of ['run', 'status']) {
  await once([command]);
  if (!/answered from the settled record/.test((await once([command], { LINEA_DEBUG: '1' })).stderr))
    process.stderr.write(`warning: the no-op ${command} was not replayed from its settled record\n`);
}

const rows: { case: string; samples: number[] }[] = [];
const phases: Record<string, Record<string, number>> = {};
const cases: { name: string; command: string; env: Record<string, string> }[] = [
  { name: 'run, replayed', command: 'run', env: {} },
  { name: 'run, the long way', command: 'run', env: { LINEA_REPLAY: '0' } },
  { name: 'status, replayed', command: 'status', env: {} },
  { name: 'status, the long way', command: 'status', env: { LINEA_REPLAY: '0' } },
];
for (const c of cases) {
  const samples: number[] = [];
  for (let r = 0; r < REPEATS; r++) samples.push((await once([c.command], c.env)).ms);
  rows.push({ case: `default pipeline (132 instances), no-op ${c.name}`, samples });
  const line = (await once([c.command], { ...c.env, LINEA_PROFILE: '1' })).stderr
    .split('\n')
    .find((l) => l.startsWith('linea-profile '));
  if (line) phases[`default ${c.name}`] = JSON.parse(line.slice('linea-profile '.length)) as Record<string, number>;
}

// The synthetic beside it, measured by its own bench in this invocation.
const synthetic = await execa(
  process.execPath,
  [
    '--import',
    'tsx',
    'bench/engine-overhead.ts',
    '--stages',
    '1000',
    '--repeats',
    String(REPEATS),
    '--without-snakemake',
    '--json',
  ],
  { cwd: REPO, reject: false, stdin: 'ignore' },
);
if (synthetic.exitCode !== 0) throw new Error(`bench/engine-overhead.ts failed:\n${synthetic.stderr}`);
const overhead = JSON.parse(synthetic.stdout) as {
  rows: { stages: number; case: string; command: string; samples: number[] }[];
  breakdown: Record<string, Record<string, number>>;
};
for (const r of overhead.rows.filter((x) => x.case === 'no-op'))
  rows.push({
    case: `synthetic (${r.stages} stages), no-op ${r.command.replace('linea ', '')}`,
    samples: r.samples.map((s) => s * 1000),
  });
for (const [name, p] of Object.entries(overhead.breakdown)) phases[`synthetic ${name.replace(/^\d+ /, '')}`] = p;

process.stdout.write(
  `| case | samples (ms) | median |\n|---|---|---|\n${rows
    .map(
      (r) =>
        `| ${r.case} | ${r.samples.map((s) => s.toFixed(0)).join(', ')} | **${median(r.samples).toFixed(0)} ms** |`,
    )
    .join('\n')}\n\n`,
);
const names = [...new Set(Object.values(phases).flatMap((p) => Object.keys(p)))];
const columns = Object.keys(phases);
process.stdout.write(
  `where one no-op's time goes (ms, $LINEA_PROFILE):\n\n| phase | ${columns.join(' | ')} |\n|---|${columns.map(() => '---|').join('')}\n${names
    .map((n) => `| ${n} | ${columns.map((c) => (phases[c]![n] ?? 0).toFixed(0)).join(' | ')} |`)
    .join('\n')}\n`,
);
