// linea on a real single-node Slurm with a shared run index on a real Postgres or Redis, all on
// loopback, started by scripts/services.sh (root; .ci/run does it). Each stage instance is a batch
// job running `linea worker`; the driver follows it through its job directory and Slurm's state.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import {
  freshProjects,
  parseExecution,
  type Project,
  REPO,
  type RunJson,
  statuses,
  waitFor,
} from './helpers/project.ts';
import { viewUrl } from './helpers/view.ts';

const SERVICES = join(REPO, 'scripts', 'services.sh');
const env: Record<string, string> = {};

/** How many times an instance's stage began, by the toy stages' executions log. */
const startsOf = (project: Project, instance: string) =>
  project
    .executions()
    .map(parseExecution)
    .filter((e) => e.instance === instance && e.note?.startsWith('start=')).length;

const slurmState = async (id: string) =>
  (await execa('squeue', ['-h', '-j', id, '-o', '%T'], { env, reject: false })).stdout.trim();

before(async () => {
  const up = await execa('bash', [SERVICES, 'up', 'slurm', 'postgres', 'redis'], { reject: false });
  assert.equal(up.exitCode, 0, `scripts/services.sh up failed (it needs root and Debian packages):\n${up.stderr}`);
  const text = readFileSync(join(process.env.LINEA_SERVICES_DIR ?? '/tmp/linea-services', 'env.sh'), 'utf8');
  for (const [, name, value] of text.matchAll(/^export (\w+)=(.*)$/gm)) env[name!] = value!;
});

const INDEXES = { postgres: () => env.LINEA_TEST_POSTGRES!, redis: () => env.LINEA_TEST_REDIS! };

describe('slurm executor', () => {
  const fresh = freshProjects();
  /** `index` undefined: the default, a directory in the project's cache, with lease files beside it. */
  const slurm = (index: string | undefined, ...more: string[]) => [
    '--executor',
    'slurm',
    '--jobs',
    '4',
    ...(index ? ['--index', index] : []),
    ...more,
  ];
  /** One server serves every test: each project has its own store, and an entry whose object is elsewhere is a miss. */
  const run = (project: Project, args: string[], extra: Record<string, string> = {}) =>
    project.linea(args, { ...env, ...extra });

  /**
   * The id of the Slurm job running this project's `slow` stage, once the stage has started in it.
   * Asked of the project's own `status`: other test files run slurm jobs named linea:slow at the
   * same time, so a job found in squeue by name may be another project's.
   */
  const runningSlowJob = async (project: Project, args: string[]): Promise<string> => {
    let job = '';
    await waitFor(async () => {
      const status = await run(project, ['status', ...args.slice(1), '--json']);
      const slow = (
        JSON.parse(status.stdout || '{"stages":[]}') as { stages: { id: string; running?: string }[] }
      ).stages.find((s) => s.id === 'slow');
      job = slow?.running?.match(/^slurm job (\d+)$/)?.[1] ?? '';
      return job !== '' && project.executions().some((l) => l.startsWith('slow ') && l.includes('step='));
    }, 'the slow job to run, shown by status as running (slurm job N)');
    return job;
  };

  for (const [name, uri] of Object.entries(INDEXES)) {
    it(`runs the toy pipeline as jobs with a ${name} index; a second run is all cached`, async () => {
      const project = fresh();
      const first = await run(project, ['run', ...slurm(uri()), '--json']);
      assert.equal(first.code, 0, first.stderr);
      assert.ok((JSON.parse(first.stdout) as RunJson).stages.every((s) => s.status === 'ran'));
      const ran = project.takeExecutions();
      assert.deepEqual(ran, ['double', 'slow', 'source', 'square', 'sum'], 'one execution per key');
      assert.match(first.stderr, /slurm job \d+/, 'progress names the jobs');
      const second = await run(project, ['run', ...slurm(uri()), '--json']);
      assert.ok((JSON.parse(second.stdout) as RunJson).stages.every((s) => s.status === 'cached'));
      const status = await run(project, ['status', '--index', uri(), '--json']);
      assert.ok(
        (JSON.parse(status.stdout) as { stages: { state: string }[] }).stages.every((s) => s.state === 'cached'),
      );
    });
  }

  it('two drivers on different hosts, one store and one index: each key runs once', async () => {
    const project = fresh();
    const args = ['run', ...slurm(INDEXES.postgres()), '--set', 'source.delayMs=1500', '--json'];
    const [a, b] = await Promise.all([
      project.spawn(args, { ...env, LINEA_HOST: 'node-a' }),
      project.spawn(args, { ...env, LINEA_HOST: 'node-b' }),
    ]);
    assert.equal(a.exitCode, 0, String(a.stderr));
    assert.equal(b.exitCode, 0, String(b.stderr));
    assert.deepEqual(project.takeExecutions(), ['double', 'slow', 'source', 'square', 'sum']);
    for (const id of ['source', 'double', 'square', 'sum', 'slow']) {
      const pair = [statuses(JSON.parse(String(a.stdout)))[id], statuses(JSON.parse(String(b.stdout)))[id]].sort();
      assert.deepEqual(pair, ['cached', 'ran'], id);
    }
  });

  // The lease of the killed driver names its job: the rerun adopts the job through it, so nothing
  // that clears dead leases (a run's sweep, gc) may take it while the key is uncommitted.
  for (const [name, index] of [
    ['redis', () => INDEXES.redis()],
    ['directory', () => undefined],
  ] as const) {
    it(`a driver killed mid-run leaves its jobs running; the rerun adopts them (${name} index)`, async () => {
      const project = fresh();
      const args = ['run', ...slurm(index()), '--only', 'slow', '--set', 'slow.steps=30', '--set', 'slow.stepMs=500'];
      const driver = project.spawn(args, env);
      const job = await runningSlowJob(project, args);
      driver.kill('SIGKILL');
      await driver;
      assert.equal(await slurmState(job), 'RUNNING', 'the job outlives its driver');
      const rerun = await run(project, [...args, '--json']);
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.match(rerun.stderr, new RegExp(`adopting slurm job ${job}`));
      assert.equal(startsOf(project, 'slow'), 1, 'the stage ran once, in the adopted job');
    });
  }

  // sbatch queued the job, but the driver died before it learnt the job's id (a wrapper around
  // sbatch kills it there): the lease named the job's directory before the submission, so the
  // rerun finds the job by its output path and adopts it, instead of running the stage beside it.
  /** Run `args` with an sbatch that kills the driver calling it, after (`queued`) or before submitting. */
  const killedAtSbatch = async (project: Project, args: string[], queued: boolean) => {
    const sbatch = (await execa('which', ['sbatch'], { env })).stdout.trim();
    const bin = mkdtempSync(join(tmpdir(), 'linea-sbatch-'));
    const script = queued
      ? `#!/bin/sh\nout=$("${sbatch}" "$@") || exit $?\nkill -9 $PPID\necho "$out"\n`
      : '#!/bin/sh\nkill -9 $PPID\nexit 1\n';
    writeFileSync(join(bin, 'sbatch'), script, { mode: 0o755 });
    const driver = await project.spawn(args, { ...env, PATH: `${bin}:${process.env.PATH}` });
    rmSync(bin, { recursive: true, force: true });
    assert.equal(driver.signal, 'SIGKILL', String(driver.stderr));
  };

  it('a driver killed between submitting a job and recording its id: the rerun finds the job and adopts it', async () => {
    const project = fresh();
    const args = ['run', ...slurm(undefined), '--only', 'slow', '--set', 'slow.steps=6', '--set', 'slow.stepMs=300'];
    await killedAtSbatch(project, args, true);
    const rerun = await run(project, [...args, '--json']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /adopting slurm job \d+/);
    assert.equal(statuses(JSON.parse(rerun.stdout) as RunJson).slow, 'ran');
    assert.equal(startsOf(project, 'slow'), 1, 'the stage ran once, in the adopted job');
  });

  // The lease named a job directory, but the driver died before sbatch ran: no job to adopt.
  it('a driver killed after naming its job in the lease but before sbatch: the rerun runs the stage afresh', async () => {
    const project = fresh();
    const args = ['run', ...slurm(undefined), '--only', 'slow', '--set', 'slow.steps=2', '--set', 'slow.stepMs=100'];
    await killedAtSbatch(project, args, false);
    const jobs = join(project.cacheDir, 'jobs');
    // (Beside it, the directory of the pilot job it was about to submit.)
    const tasks = readdirSync(jobs).filter((name) => !name.endsWith('-pilot'));
    assert.equal(tasks.length, 1, 'the dead driver left its job directory');
    project.takeExecutions();
    const rerun = await run(project, [...args, '--json']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.doesNotMatch(rerun.stderr, /adopting/);
    assert.equal(statuses(JSON.parse(rerun.stdout) as RunJson).slow, 'ran');
    // The driver died at its first sbatch, source's: each of the two runs once, in the rerun.
    assert.deepEqual(project.takeExecutions(), ['slow', 'source']);
    assert.deepEqual(readdirSync(jobs), [], "the dead driver's job directory goes with the rerun's own");
  });

  // A driver killed between sealing a finished job's files into the store (a rename) and recording
  // them leaves a job whose work folder is gone: nothing says which object is the key's.
  it('a job whose files the dead driver moved but did not record is run again, not committed from nothing', async () => {
    const project = fresh();
    const args = ['run', ...slurm(undefined), '--only', 'slow', '--set', 'slow.steps=4', '--set', 'slow.stepMs=300'];
    const driver = project.spawn(args, env);
    await runningSlowJob(project, args);
    driver.kill('SIGKILL');
    await driver;
    const jobs = join(project.cacheDir, 'jobs');
    const jobDir = () =>
      readdirSync(jobs)
        .filter((d) => !d.endsWith('-pilot'))
        .map((d) => join(jobs, d))[0]!;
    await waitFor(() => existsSync(join(jobDir(), 'outcome.json')), 'the orphaned job to finish');
    rmSync(join(jobDir(), 'work'), { recursive: true, force: true });
    project.takeExecutions();
    const rerun = await run(project, [...args, '--json']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /moved its files into the store without recording them; running it again/);
    assert.equal(statuses(JSON.parse(rerun.stdout) as RunJson).slow, 'ran');
    assert.deepEqual(project.takeExecutions(), ['slow']);
    // (The dead driver's pilot, idle now, leaves within seconds and takes its directory with it.)
    const tasks = readdirSync(jobs).filter((d) => !d.endsWith('-pilot'));
    assert.deepEqual(tasks, [], "the orphaned job's directory goes, as the rerun's own does");
    const verify = await project.linea(['verify'], env);
    assert.equal(verify.code, 0, verify.stdout);
  });

  it('a driver killed mid-group leaves the group running; the rerun adopts each task, and each runs once', async () => {
    const project = fresh();
    // double, square and slow are ready together once source is done: --group 3 puts them in one job.
    const args = ['run', ...slurm(undefined, '--group', '3'), '--set', 'slow.steps=30', '--set', 'slow.stepMs=300'];
    const driver = project.spawn(args, env);
    const job = await runningSlowJob(project, args);
    driver.kill('SIGKILL');
    await driver;
    assert.equal(await slurmState(job), 'RUNNING', 'the group outlives its driver');
    const rerun = await run(project, [...args, '--json']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, new RegExp(`adopting slurm job ${job}`));
    const ran = project
      .executions()
      .map(parseExecution)
      .filter((e) => e.note === undefined || e.note.startsWith('start='));
    const once = (instance: string) => ran.filter((e) => e.instance === instance);
    for (const instance of ['source', 'double', 'square', 'slow', 'sum'])
      assert.equal(once(instance).length, 1, `${instance} ran once: ${JSON.stringify(ran)}`);
    // One worker process ran the whole group: one job's submission, queue wait and start-up.
    const group = new Set(['double', 'square', 'slow'].map((i) => once(i)[0]!.pid));
    assert.equal(group.size, 1, 'double, square and slow ran in one job');
    assert.equal(statuses(JSON.parse(rerun.stdout) as RunJson).slow, 'ran');
  });

  // Pilots (the default): a job slot is a job that runs instance after instance. With one slot,
  // the whole toy pipeline runs in one job, one worker process: one submission and one start.
  it('with --jobs 1 every instance runs in one pilot job, which is gone when the run ends', async () => {
    const project = fresh();
    const result = await run(project, ['run', '--executor', 'slurm', '--jobs', '1', '--local-below', '0', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const ran = project
      .executions()
      .map(parseExecution)
      .filter((e) => e.note === undefined || e.note.startsWith('start='));
    assert.deepEqual(ran.map((e) => e.instance).sort(), ['double', 'slow', 'source', 'square', 'sum']);
    assert.equal(new Set(ran.map((e) => e.pid)).size, 1, `one worker process ran them all: ${JSON.stringify(ran)}`);
    const ids = new Set([...result.stderr.matchAll(/slurm job (\d+)/g)].map((m) => m[1]!));
    assert.equal(ids.size, 1, 'one job');
    const [id] = ids;
    assert.doesNotMatch(await slurmState(id!), /RUNNING|PENDING/, 'the idle pilot does not outlive its run');
    assert.deepEqual(readdirSync(join(project.cacheDir, 'jobs')), [], 'nor does its directory');
  });

  // Pilots start as work waits for them (--pilot-ramp): four 1.5 s naps, ready together, with four
  // job slots. Under a ramp no nap waits out, one pilot runs them all; under a short one, each nap
  // that waited for the busy or starting pilots got one of its own.
  it('a pilot starts only for an instance that has waited --pilot-ramp seconds for one', async () => {
    const pidsAndJobs = async (ramp: string) => {
      const project = fresh();
      const args = ['run', '--pipeline', 'queue.pipeline.ts', '--executor', 'slurm', '--jobs', '4'];
      const result = await run(project, [...args, '--local-below', '0', '--pilot-ramp', ramp]);
      assert.equal(result.code, 0, result.stderr);
      const pids = new Set(project.executions().map((l) => parseExecution(l).pid));
      const jobs = new Set([...result.stderr.matchAll(/slurm job (\d+)/g)].map((m) => m[1]!));
      return { pids: pids.size, jobs: jobs.size };
    };
    assert.deepEqual(await pidsAndJobs('60'), { pids: 1, jobs: 1 }, 'no nap waited 60 s: one pilot ran them all');
    assert.deepEqual(await pidsAndJobs('0.3'), { pids: 4, jobs: 4 }, 'each nap waited 0.3 s: a pilot each');
  });

  // A driver killed while its pilot runs a task: the rerun adopts the task, and the pilot, which
  // nobody will hand more work, leaves once its task is done (well before its idle time).
  it("a dead driver's pilot finishes its task for the rerun to adopt, then leaves and takes its directory", async () => {
    const project = fresh();
    const steps = ['--set', 'slow.steps=8', '--set', 'slow.stepMs=300'];
    const args = ['run', ...slurm(undefined, '--pilot-idle', '600'), '--only', 'slow', ...steps];
    const driver = project.spawn(args, env);
    const job = await runningSlowJob(project, args);
    driver.kill('SIGKILL');
    await driver;
    const rerun = await run(project, [...args, '--json']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, new RegExp(`adopting slurm job ${job}`));
    assert.equal(startsOf(project, 'slow'), 1, 'the stage ran once, in the adopted pilot');
    await waitFor(async () => !/RUNNING|PENDING/.test(await slurmState(job)), 'the orphaned pilot to leave', 45);
    const jobs = join(project.cacheDir, 'jobs');
    await waitFor(() => readdirSync(jobs).length === 0, 'its directory to go');
  });

  it("a group's task that fails after the others were recorded still shows the job's stderr", async () => {
    const project = fresh();
    const args = ['run', ...slurm(undefined, '--group', '3'), '--set', 'slow.steps=30', '--set', 'slow.stepMs=300'];
    const driver = project.spawn(args, env);
    const job = await runningSlowJob(project, args);
    // The group's tasks run one after another: those that ran before slow are recorded, and
    // their folders go (the first task's among them, unless slow was first).
    const before = ['double', 'square'].filter((id) => project.executions().some((l) => l.startsWith(`${id} `)));
    await waitFor(
      async () => {
        const status = await run(project, ['status', ...args.slice(1), '--json']);
        const stages = (JSON.parse(status.stdout || '{"stages":[]}') as { stages: { id: string; state: string }[] })
          .stages;
        return before.every((id) => stages.find((s) => s.id === id)?.state === 'cached');
      },
      `${before.join(' and ') || 'nothing'} to be recorded`,
    );
    await execa('scancel', [job]);
    const result = await driver;
    assert.equal(result.exitCode, 1, String(result.stderr));
    // Slurm writes the cancellation into the job's stderr; the group's log outlived its first task.
    assert.match(
      String(result.stderr),
      /slow failed: slurm job \d+ ended CANCELLED[\s\S]*its stderr ends:[\s\S]*CANCELLED AT/,
    );
  });

  it('a stage marked local, or quicker than --local-below last time, runs in the driver, not as a job', async () => {
    const project = fresh();
    const first = await run(project, ['run', ...slurm(undefined, '--resources', 'source.local=true', '--json')]);
    assert.equal(first.code, 0, first.stderr);
    const pids = (instance: string) =>
      project
        .executions()
        .map(parseExecution)
        .filter((e) => e.instance === instance)
        .map((e) => e.pid);
    const driverPid = pids('source')[0];
    assert.ok(
      driverPid !== undefined && !pids('double').includes(driverPid),
      'source ran in the driver, double in a job',
    );
    // Every toy stage took well under a second: with their history, a forced rerun keeps them all in the driver.
    const again = await run(project, ['run', ...slurm(undefined, '--set', 'source.n=9', '--json')], {
      LINEA_DEBUG: '1',
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /runs in the driver \(earlier runs took/);
    assert.doesNotMatch(again.stderr, /slurm job \d+/, 'no job was submitted');
    const none = await run(project, ['run', ...slurm(undefined, '--set', 'source.n=10', '--local-below', '0')]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, /slurm job \d+/, '--local-below 0: every instance is a job again');
  });

  // Stages share the process's tensor engine and buffers: in the driver, as in process, they run
  // one at a time (interleaved, two corrupted the driver's heap).
  it('instances that run in the driver run one at a time', async () => {
    const project = fresh();
    const args = ['run', '--pipeline', 'queue.pipeline.ts', '--executor', 'slurm', '--jobs', '4'];
    const result = await run(project, [...args, '--resources', 'nap.local=true']);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /slurm job \d+/, 'every nap ran in the driver');
    const starts = project
      .executions()
      .map(parseExecution)
      .map((e) => e.at)
      .sort((a, b) => a - b);
    assert.equal(starts.length, 4);
    // Each nap sleeps 1.5 s: one that began before the previous one ended overlapped it.
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! >= 1500, `${starts}`);
  });

  // One stage's instances can differ a hundredfold (a sweep over widths): each instance's own last
  // time decides, not its stage's typical one. Here square's two instances took ~0 and ~1.5 s, and
  // a stage's typical time is the median of its instances' (of two, their mean: ~0.75 s), under
  // --local-below 1: without each instance's own time both would run in the driver.
  it('--local-below judges an instance by its own last time, not its stage’s typical one', async () => {
    const project = fresh();
    const args = ['run', '--pipeline', 'groups.pipeline.ts', '--ablate', 'pause=0,1500'];
    // In process, so that the times recorded are the stages' own, without a job's start.
    const first = await run(project, args);
    assert.equal(first.code, 0, first.stderr);
    const slurmArgs = ['--executor', 'slurm', '--jobs', '2', '--local-below', '1', '--set', 'source.n=9'];
    const again = await run(project, [...args, ...slurmArgs]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /square\[pause=0\]: runs in the driver \(earlier runs took 0\.\d+ s/);
    assert.match(again.stderr, /square\[pause=1500\]: slurm job \d+/);
  });

  it('a job cancelled with scancel is reported with its state, and the rerun recomputes it', async () => {
    const project = fresh();
    const args = [
      'run',
      ...slurm(INDEXES.postgres()),
      '--only',
      'slow',
      '--set',
      'slow.steps=20',
      '--set',
      'slow.stepMs=500',
    ];
    const driver = project.spawn(args, env);
    const job = await runningSlowJob(project, args);
    await execa('scancel', [job], { env });
    const result = await driver;
    assert.equal(result.exitCode, 1, String(result.stderr));
    assert.match(String(result.stderr), new RegExp(`slow failed: slurm job ${job} ended CANCELLED`));
    const rerun = await run(project, [...args, '--set', 'slow.stepMs=10', '--json']);
    assert.equal(rerun.code, 0, rerun.stderr);
  });

  it('a job past its time limit is reported as TIMEOUT', async () => {
    const project = fresh();
    const result = await run(project, [
      'run',
      ...slurm(INDEXES.redis()),
      '--only',
      'slow',
      '--set',
      'slow.steps=400',
      '--set',
      'slow.stepMs=1000',
      '--resources',
      'slow.time=1',
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /slow failed: slurm job \d+ ended TIMEOUT/);
  });

  it('the index server dying mid-run fails the run cleanly; the rerun finishes the work', async () => {
    const project = fresh();
    const redisPort = new URL(INDEXES.redis()).port;
    const args = ['run', ...slurm(INDEXES.redis()), '--set', 'slow.steps=6', '--set', 'slow.stepMs=500'];
    const driver = project.spawn(args, env);
    await waitFor(() => project.executions().some((l) => l.startsWith('slow ') && l.includes('step=')), 'slow to run');
    await execa('redis-cli', ['-p', redisPort, 'shutdown', 'nosave'], { reject: false });
    const result = await driver;
    assert.equal(result.exitCode, 1, 'the run fails');
    assert.match(String(result.stderr), /redis|index|connect/i, 'the failure names the index');
    await execa('bash', [SERVICES, 'up', 'redis']);
    // Shut down without saving, the server comes back empty: verify says the index lost runs the
    // store holds (exit 1), and --repair restores them.
    const verify = await run(project, ['verify', '--index', INDEXES.redis()]);
    assert.equal(verify.code, 1, verify.stdout);
    assert.match(verify.stdout, /the index lacks \d+ runs/);
    const repair = await run(project, ['verify', '--repair', '--index', INDEXES.redis()]);
    assert.equal(repair.code, 0, `${repair.stdout}${repair.stderr}`);
    const rerun = await run(project, [...args, '--json']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.ok((JSON.parse(rerun.stdout) as RunJson).stages.every((s) => s.status !== 'failed'));
  });
});

describe('the experiment through slurm', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'linea-cluster-smoke-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the smoke preset as jobs with a postgres index, as it runs locally', async () => {
    const result = await execa(
      process.execPath,
      [
        join(REPO, 'bin', 'linea.js'),
        'run',
        '--preset',
        'smoke',
        '--executor',
        'slurm',
        '--jobs',
        '4',
        '--index',
        INDEXES.postgres(),
        '--cache-dir',
        join(dir, 'cache'),
        '--out',
        join(dir, 'results'),
        '--json',
      ],
      { cwd: REPO, reject: false, env: { ...env, CI: 'true', OMP_WAIT_POLICY: 'PASSIVE' } },
    );
    assert.equal(result.exitCode, 0, result.stderr);
    const run = JSON.parse(result.stdout) as RunJson & { published: { instance: string }[] };
    assert.ok(run.stages.every((s) => s.status === 'ran' || s.status === 'cached'));
    assert.ok(run.stages.some((s) => s.stage === 'report'));
    assert.equal(run.published.length, 1, 'the report is published');
  });
});

// A run index on a server that goes away mid-run, stopped with `pg_ctl -m fast` while a stage runs
// (here, not in a file of its own: the other tests of this file share the server). A server that
// stays down fails the run with one line naming the index and `--json` still printed; one that
// comes back within seconds is reconnected to and the run finishes; nothing committed is lost.
const services = (...args: string[]) => execa('bash', [SERVICES, ...args]);

/** A run whose `slow` stage takes ~4 s, on the Postgres index; resolves once `slow` is under way. */
async function runningSlow(project: Project, env: Record<string, string> = {}) {
  const args = ['run', '--index', INDEXES.postgres(), '--set', 'slow.steps=8', '--set', 'slow.stepMs=500', '--json'];
  const driver = project.spawn(args, env);
  await waitFor(() => project.executions().some((l) => l.startsWith('slow ') && l.includes('step=2')), 'slow to run');
  return { driver, args };
}

describe('a Postgres index that goes away', () => {
  const fresh = freshProjects();

  it('stays down: one line naming the index, rc 1, --json printed; the rerun keeps what finished', async () => {
    const project = fresh();
    const { driver, args } = await runningSlow(project, { LINEA_RECONNECT_WINDOW_MS: '2000' });
    await services('stop', 'postgres');
    const result = await driver;
    await services('start', 'postgres');
    const stderr = String(result.stderr);
    assert.equal(result.exitCode, 1, stderr);
    assert.doesNotMatch(stderr, /Unhandled 'error' event|node:events|at .*\.js:\d+/);
    assert.match(stderr, /^linea: .*postgres:\/\/postgres@127\.0\.0\.1:\d+\/linea/m);
    const json = JSON.parse(String(result.stdout)) as RunJson;
    const finished = json.stages.filter((s) => s.status === 'ran').map((s) => s.id);
    assert.ok(finished.includes('source'), JSON.stringify(json.stages));
    project.takeExecutions();
    const rerun = await project.linea(args);
    assert.equal(rerun.code, 0, rerun.stderr);
    const again = project.takeExecutions();
    for (const id of finished) assert.ok(!again.includes(id), `${id} finished before the stop and ran again: ${again}`);
  });

  it('comes back within seconds: the run reconnects and finishes', async () => {
    const project = fresh();
    const { driver } = await runningSlow(project);
    await services('stop', 'postgres');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await services('start', 'postgres');
    const result = await driver;
    assert.equal(result.exitCode, 0, String(result.stderr));
    const json = JSON.parse(String(result.stdout)) as RunJson;
    assert.ok(
      json.stages.every((s) => s.status === 'ran'),
      JSON.stringify(json.stages),
    );
  });
});

describe('a Redis index, closed', () => {
  it('leaves no timer behind, so a command exits as soon as its output is written', async () => {
    // keyv's connect timeout used to stay armed for 5 s after close, holding every command open.
    const { RunIndex } = await import('../src/engine/index/run-index.ts');
    const { backendFor } = await import('../src/engine/index/index-backends.ts');
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const uri = new URL(INDEXES.redis());
    const index = await RunIndex.open(uri);
    await index.runs();
    await index.close();
    const leases = await backendFor(uri).leases(uri, tmpdir(), 60_000);
    await leases.close();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(timers(), before);
  });
});

describe('Postgres leases', () => {
  /** A lease store on the test server (each its own pool, as each driver has), and its driver module. */
  const postgres = async () => {
    const pg = (await import('pg')).default;
    const { PostgresLeases } = await import('../src/engine/index/lease-postgres.ts');
    const { openPool } = await import('../src/engine/index/postgres.ts');
    const uri = new URL(INDEXES.postgres());
    const open = () =>
      new PostgresLeases(openPool(pg, uri, { connectTimeoutMs: 5000, queryTimeoutMs: 30_000 }), 60_000);
    return { pg, uri, open };
  };
  const key = (name: string) => name.padEnd(64, '0') as import('../src/engine/core/json.ts').CacheKey;

  it('gc deletes expired lease rows, except those naming a job that may still compute its key', async () => {
    const { pg, uri, open } = await postgres();
    const leases = open();
    const held = await leases.tryAcquire(key('swept-live'));
    assert.ok(held.ok);
    const client = new pg.Client({ connectionString: uri.href });
    await client.connect();
    try {
      for (const [name, job] of [
        ['swept-gone', undefined],
        ['swept-job', { executor: 'slurm', id: '1', dir: '/nowhere' }],
      ] as const)
        await client.query(
          `INSERT INTO linea_leases VALUES ($1, $2, $3, now() - interval '1 hour') ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, nonce = excluded.nonce, expires_at = excluded.expires_at`,
          [
            key(name),
            JSON.stringify({ host: 'gone', pid: 1, nonce: name, acquiredAt: '', ...(job ? { job } : {}) }),
            name,
          ],
        );
      const removed = await leases.sweep(async (_key, holder) => holder.job !== undefined);
      assert.ok(removed >= 1);
      const { rows } = await client.query<{ key: string }>(`SELECT key FROM linea_leases WHERE key = ANY($1)`, [
        [key('swept-gone'), key('swept-job'), key('swept-live')],
      ]);
      assert.deepEqual(rows.map((r) => r.key).sort(), [key('swept-job'), key('swept-live')].sort());
    } finally {
      await client.end();
      await leases.close();
    }
  });

  // One driver's insert finds the key's row, the other releases (deletes) it, and the first's
  // locking select then finds nothing: that must be a retry, not a crash of the stage.
  it('two holders taking and releasing one key over and over never fail', async () => {
    const { open } = await postgres();
    const both = [open(), open()];
    let taken = 0;
    try {
      await Promise.all(
        both.map(async (leases) => {
          for (let i = 0; i < 300; i++) {
            const got = await leases.tryAcquire(key('contended'));
            if (!got.ok) continue;
            taken++;
            await got.lease.release();
          }
        }),
      );
    } finally {
      await Promise.all(both.map((l) => l.close()));
    }
    assert.ok(taken > 0);
  });
});

describe('linea view with a server index', () => {
  const fresh = freshProjects();
  for (const [name, uri] of Object.entries(INDEXES)) {
    it(`reads the plan and an instance's runs from a ${name} index`, async () => {
      const project = fresh();
      const index = ['--index', uri()];
      assert.equal((await project.linea(['run', ...index], env)).code, 0);
      const view = project.spawn(['view', '--port', '0', ...index], env);
      try {
        const url = await viewUrl(view);
        const plan = (await (await fetch(new URL('api/plan', url))).json()) as {
          instances: { id: string; state: string }[];
        };
        assert.deepEqual(
          plan.instances.map((i) => i.state),
          plan.instances.map(() => 'cached'),
        );
        const slow = (await (await fetch(new URL('api/instance?id=slow', url))).json()) as {
          runs: { current: boolean }[];
          metrics: Record<string, unknown[]>;
        };
        assert.equal(slow.runs.filter((r) => r.current).length, 1);
        assert.equal(slow.metrics.loss?.length, 3, 'the record keeps the metrics of every step');
      } finally {
        view.kill('SIGINT');
        await view.catch(() => undefined);
      }
    });
  }
});
