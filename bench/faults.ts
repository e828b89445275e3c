/**
 * The fault table in docs/faults.md: each fault injected into a real CLI
 * run of the toy fixture, several times, and what came of it. A trial fails when the outcome is
 * not what docs/faults.md promises (a clear error or a finished run, never a stack, a hang or a
 * corrupt store); a result is lost when something committed before the fault is computed again
 * afterwards, or is gone.
 *
 *   node --import tsx bench/faults.ts            (the Postgres and Redis rows too with
 *                                                 $LINEA_TEST_POSTGRES and $LINEA_TEST_REDIS, from
 *                                                 scripts/services.sh up postgres redis)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeProject, parseExecution, type Project, REPO, type StatusJson } from '../test/helpers/project.ts';

interface Row {
  fault: string;
  trials: number;
  failures: number;
  lost: number;
}

const TRIALS = Number(process.env.FAULT_TRIALS ?? 5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const executed = (p: Project) => p.takeExecutions();
const startedSlow = (p: Project) =>
  p.executions().some((l) => parseExecution(l).instance === 'slow' && l.includes('step=1'));

async function until(condition: () => boolean, seconds = 30): Promise<void> {
  for (let i = 0; i < seconds * 20 && !condition(); i++) await sleep(50);
}

/** Run `trials` trials of one fault; each returns [failed, lost]. */
async function measure(fault: string, trial: () => Promise<[boolean, number]>, trials = TRIALS): Promise<Row> {
  const row = { fault, trials, failures: 0, lost: 0 };
  for (let i = 0; i < trials; i++) {
    const [failed, lost] = await trial();
    if (failed) row.failures++;
    row.lost += lost;
  }
  process.stderr.write(`${fault}: ${row.failures} failures, ${row.lost} lost of ${trials}\n`);
  return row;
}

/** What a project holds committed now (cached in status): a rerun must not compute these again. */
async function committed(p: Project, args: string[]): Promise<Set<string>> {
  const status = JSON.parse((await p.linea(['status', ...args, '--json'])).stdout) as StatusJson;
  return new Set(status.stages.filter((s) => s.state === 'cached').map((s) => s.id));
}
const lostOf = (kept: Set<string>, again: string[]) => again.filter((id) => kept.has(id)).length;
const stack = (text: string) => /internal error|Unhandled 'error'|\n\s+at .+:\d+:\d+/.test(text);

async function sigkill(): Promise<[boolean, number]> {
  const p = makeProject();
  try {
    const run = p.spawn(['run', '--set', 'slow.steps=20', '--set', 'slow.stepMs=100']);
    await until(() => startedSlow(p));
    run.kill('SIGKILL');
    await run;
    const kept = await committed(p, ['--set', 'slow.steps=20']);
    executed(p);
    const rerun = await p.linea(['run', '--set', 'slow.steps=20', '--set', 'slow.stepMs=1']);
    const verify = await p.linea(['verify']);
    return [rerun.code !== 0 || verify.code !== 0, lostOf(kept, executed(p))];
  } finally {
    p.remove();
  }
}

async function concurrent(): Promise<[boolean, number]> {
  const p = makeProject();
  try {
    const runs = await Promise.all(Array.from({ length: 4 }, () => p.linea(['run', '--set', 'slow.steps=3'])));
    const ids = p
      .executions()
      .map((l) => parseExecution(l))
      .filter((e) => e.note === undefined || e.note.startsWith('start='));
    const twice = ids.length - new Set(ids.map((e) => e.instance)).size;
    return [runs.some((r) => r.code !== 0) || twice > 0, 0];
  } finally {
    p.remove();
  }
}

async function gcBesideAblate(): Promise<[boolean, number]> {
  const p = makeProject();
  try {
    let failed = false;
    for (let round = 0; round < 3; round++) {
      const run = p.linea(['run', '--ablate', 'factor=2,3,4', '--set', `source.n=${10 + round}`]);
      const gc = p.linea(['gc', '--grace', '0']);
      const [r, g] = await Promise.all([run, gc]);
      if (r.code !== 0 || g.code !== 0 || stack(r.stderr + g.stderr)) failed = true;
    }
    return [failed || (await p.linea(['verify'])).code !== 0, 0];
  } finally {
    p.remove();
  }
}

const entryFile = (p: Project, name: string) =>
  join(p.cacheDir, 'index', 'run', `${createHash('sha256').update(name).digest('hex')}.json`);

async function garbledEntry(): Promise<[boolean, number]> {
  const p = makeProject();
  try {
    await p.linea(['run', '--set', 'slow.steps=1']);
    const status = JSON.parse((await p.linea(['status', '--json', '--set', 'slow.steps=1'])).stdout) as StatusJson;
    for (const s of status.stages)
      writeFileSync(entryFile(p, `run/${s.key}`), JSON.stringify({ key: `run/${s.key}`, value: 'oops' }));
    executed(p);
    const run = await p.linea(['run', '--set', 'slow.steps=1']);
    return [run.code !== 0 || stack(run.stderr), executed(p).length];
  } finally {
    p.remove();
  }
}

/**
 * A lease at the source stage's key planted by `plant`, then a run: it must end (take over what
 * is provably stale or damaged), finish and print no stack, within `limitMs`.
 */
async function leaseTrial(plant: (path: string) => void, limitMs = 60_000): Promise<[boolean, number]> {
  const p = makeProject();
  try {
    const status = JSON.parse((await p.linea(['status', '--json'])).stdout) as StatusJson;
    const key = status.stages.find((s) => s.id === 'source')!.key!;
    mkdirSync(join(p.cacheDir, 'leases'), { recursive: true });
    plant(join(p.cacheDir, 'leases', `${key}.lease`));
    const run = p.linea(['run', '--set', 'slow.steps=1']);
    const ended = await Promise.race([run.then(() => true), sleep(limitMs).then(() => false)]);
    return [!ended || (await run).code !== 0 || stack((await run).stderr), 0];
  } finally {
    p.remove();
  }
}

const leaseDirectory = () => leaseTrial((path) => mkdirSync(path));

/**
 * A lease whose holder cannot be told apart from a live process (this host, a live pid, no start
 * time) and whose heartbeat stopped an hour ago: the run must take it over, not wait forever.
 */
const staleHeartbeatLease = () =>
  leaseTrial((path) => {
    writeFileSync(path, JSON.stringify({ host: hostname(), pid: process.pid, nonce: 'stuck', acquiredAt: '' }));
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(path, hourAgo, hourAgo);
  }, 120_000);

/** A lease file a power loss left half-written: taken over with a warning, the run finishes. */
const damagedLease = () => leaseTrial((path) => writeFileSync(path, '{"host":"x","pid":12'));

async function lostIndexTwoProjects(): Promise<[boolean, number]> {
  const cache = mkdtempSync(join(tmpdir(), 'linea-faults-shared-'));
  const env = { LINEA_CACHE_DIR: cache };
  const a = makeProject();
  const b = makeProject();
  try {
    b.edit('stages/source.ts', (text) => text.replace(".join('\\n')", ".join(',')"));
    await a.linea(['run', '--set', 'slow.steps=1'], env);
    await b.linea(['run', '--set', 'slow.steps=1'], env);
    rmSync(join(cache, 'index'), { recursive: true, force: true });
    await a.linea(['run', '--set', 'slow.steps=1'], env);
    const gc = await a.linea(['gc', '--grace', '0'], env);
    executed(b);
    await b.linea(['run', '--set', 'slow.steps=1'], env);
    return [gc.code !== 0, executed(b).length];
  } finally {
    a.remove();
    b.remove();
    rmSync(cache, { recursive: true, force: true });
  }
}

/** A server index stopped while a stage runs: one line naming it, --json still printed, nothing lost. */
async function serverStops(server: 'postgres' | 'redis', uri: string): Promise<[boolean, number]> {
  const p = makeProject();
  const services = join(REPO, 'scripts', 'services.sh');
  try {
    const args = ['run', '--index', uri, '--set', 'slow.steps=20', '--set', 'slow.stepMs=100', '--json'];
    const run = p.spawn(args, { LINEA_RECONNECT_WINDOW_MS: '2000' });
    await until(() => startedSlow(p));
    execFileSync('bash', [services, 'stop', server]);
    const result = await run;
    execFileSync('bash', [services, 'start', server]);
    JSON.parse(String(result.stdout));
    const named = new RegExp(`^linea: .*${server}://`, 'm');
    const failed = result.exitCode !== 1 || stack(String(result.stderr)) || !named.test(String(result.stderr));
    const kept = await committed(p, ['--index', uri, '--set', 'slow.steps=20']);
    executed(p);
    await p.linea(args.slice(0, -1));
    return [failed, lostOf(kept, executed(p))];
  } catch {
    return [true, 0];
  } finally {
    p.remove();
  }
}

const rows: Row[] = [
  await measure('SIGKILL of `linea run` mid-stage, then rerun and verify', sigkill),
  await measure(
    '4 concurrent `linea run`s of one pipeline on one cache (duplicate executions count as failures)',
    concurrent,
  ),
  await measure('`gc --grace 0` beside `run --ablate` (3 rounds a trial)', gcBesideAblate),
  await measure('every run entry of the files index garbled (`"value": "oops"`), then run', garbledEntry),
  await measure('a directory at a lease path, then run', leaseDirectory),
  await measure(
    'two projects on one cache, index deleted, one runs and gc --grace 0; the other reruns',
    lostIndexTwoProjects,
    3,
  ),
];
rows.push(
  await measure('a lease of a live pid without start time, heartbeat an hour old, then run', staleHeartbeatLease),
  await measure('a half-written lease file, then run', damagedLease),
);
if (process.env.LINEA_TEST_POSTGRES)
  rows.push(
    await measure(
      'Postgres index stopped mid-run (pg_ctl -m fast), then rerun',
      () => serverStops('postgres', process.env.LINEA_TEST_POSTGRES!),
      3,
    ),
  );
if (process.env.LINEA_TEST_REDIS)
  rows.push(
    await measure(
      'Redis index stopped mid-run (shutdown nosave), then rerun',
      () => serverStops('redis', process.env.LINEA_TEST_REDIS!),
      3,
    ),
  );

process.stdout.write('| fault | trials | failures | results lost |\n|---|---|---|---|\n');
for (const r of rows) process.stdout.write(`| ${r.fault} | ${r.trials} | ${r.failures} | ${r.lost} |\n`);
