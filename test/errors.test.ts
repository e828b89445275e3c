// Bad input fails before anything runs, with a message naming the stage, param or file and how
// to fix it, and a non-zero exit. A failing stage blocks only what depends on it.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeProject, REPO, statuses, type Project, type RunJson, type StatusJson } from './helpers/project.ts';

describe('errors', () => {
  let project: Project;
  before(() => {
    project = makeProject();
  });
  after(() => project.remove());

  it('a cycle fails with the cycle spelled out', async () => {
    const result = await project.linea(['run', '--pipeline', 'cycle.pipeline.ts']);
    assert.equal(result.code, 2, 'a definition error: nothing ran');
    assert.match(
      result.stderr,
      /cycle: (double → square → sum → double|square → sum → double → square|sum → double → square → sum)/,
    );
    assert.deepEqual(project.executions(), []);
  });

  it('an invalid param fails with the stage, the param path and zod’s reason, before anything runs', async () => {
    const result = await project.linea(['run', '--set', 'source.n=-3']);
    assert.equal(result.code, 2, 'a usage error, not a stage failure');
    assert.match(result.stderr, /stage 'source'/);
    assert.match(result.stderr, /param 'n' \(set by --set to -3\)/);
    assert.match(result.stderr, />=0|greater than or equal to 0/i);
    assert.deepEqual(project.executions(), [], 'nothing ran');
    assert.ok(!existsSync(join(project.cacheDir, 'objects')) || project.executions().length === 0);
  });

  it('a param of the wrong type names what it expected', async () => {
    const result = await project.linea(['status', '--set', 'double.factor=abc']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /stage 'double'.*\n.*param 'factor'.*expected number/is);
    // A quoted number is a string, and the message shows it as one.
    const quoted = await project.linea(['status', '--set', 'double.factor="3"']);
    assert.equal(quoted.code, 2);
    assert.match(quoted.stderr, /set by --set to "3"\).*expected number/);
    const axisValue = await project.linea(['status', '--ablate', 'factor=zzz']);
    assert.equal(axisValue.code, 2, axisValue.stderr);
    assert.match(axisValue.stderr, /set by axis 'factor' to "zzz"/);
  });

  it('an unknown param, stage, preset or axis is named with the valid choices', async () => {
    const param = await project.linea(['status', '--set', 'double.facter=3']);
    assert.equal(param.code, 2);
    assert.match(param.stderr, /stage 'double' has no param 'facter'; its params are .*factor/);
    const stage = await project.linea(['status', '--set', 'tripple.factor=3']);
    assert.match(stage.stderr, /'tripple.factor'.*one of source, double/);
    const preset = await project.linea(['status', '--preset', 'huge']);
    assert.equal(preset.code, 2);
    assert.match(preset.stderr, /unknown preset 'huge'; this pipeline declares small, wide/);
    const axis = await project.linea(['status', '--ablate', 'colour=red']);
    assert.match(axis.stderr, /unknown ablation axis 'colour'; this pipeline declares factor, size/);
    const value = await project.linea(['status', '--ablate', 'size=medium']);
    assert.match(value.stderr, /axis 'size' has no value 'medium'; its values are small, large/);
  });

  it('a missing pipeline file says where it looked', async () => {
    const result = await project.linea(['status', '--pipeline', 'nope.ts']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no pipeline file at .*nope\.ts/);
  });

  it('a pipeline.ts that does not parse is a definition error (2) naming the file', async () => {
    project.write('broken.pipeline.ts', 'export default definePipeline({ name: "x", \n');
    const result = await project.linea(['status', '--pipeline', 'broken.pipeline.ts']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /broken\.pipeline\.ts/);
  });

  it('an unknown command is a usage error, with or without --help', async () => {
    for (const args of [['bogus'], ['bogus', '--help']]) {
      const result = await project.linea(args);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, /unknown command 'bogus'/);
    }
  });

  it("a project run by another copy of the engine (another project's bin) is told so", () => {
    const other = mkdtempSync(join(tmpdir(), 'linea-other-engine-'));
    try {
      execFileSync('cp', ['-al', join(REPO, 'bin'), join(REPO, 'src'), join(REPO, 'package.json'), other]);
      symlinkSync(join(REPO, 'node_modules'), join(other, 'node_modules'));
      const result = spawnSync(process.execPath, [join(other, 'bin', 'linea.js'), 'status'], {
        cwd: project.dir,
        encoding: 'utf8',
        env: { ...process.env, CI: 'true' },
      });
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, /two copies of linea-engine/);
      assert.ok(result.stderr.includes(join(other, 'src', 'engine')), result.stderr);
      assert.ok(result.stderr.includes(join(REPO, 'src', 'engine')), result.stderr);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('a failing stage fails the run, blocks its dependents, and lets independent stages finish', async () => {
    const result = await project.linea(['run', '--pipeline', 'failing.pipeline.ts', '--json']);
    assert.equal(result.code, 1);
    const run = JSON.parse(result.stdout) as RunJson;
    assert.deepEqual(statuses(run), { source: 'failed', double: 'failed', other: 'ran', square: 'ran' });
    assert.equal(run.stages.find((s) => s.id === 'double')!.key, null, 'a blocked stage has no key');
    assert.match(result.stderr, /source failed: source was asked to fail/);
    assert.match(result.stderr, /double failed: blocked: upstream source failed/);
    const status = await project.json<StatusJson>(['status', '--pipeline', 'failing.pipeline.ts']);
    const source = status.stages.find((s) => s.id === 'source')!;
    assert.equal(source.reasons[0]!.message, 'last run failed: source was asked to fail');
    assert.equal(status.stages.find((s) => s.id === 'double')!.state, 'blocked');
  });

  it('a stage returning a circular value is told where the cycle is', async () => {
    const result = await project.linea(['run', '--pipeline', 'circular.pipeline.ts']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /output\.a\.b\.back is a circular reference/);
    assert.doesNotMatch(result.stderr, /Maximum call stack/);
  });

  it('an unknown command or flag is a usage error', async () => {
    assert.equal((await project.linea(['frobnicate'])).code, 2);
    assert.equal((await project.linea(['run', '--colour'])).code, 2);
  });

  it('bad cluster flags are usage errors that say what is accepted, before anything runs', async () => {
    const cases: [string[], RegExp][] = [
      [['--executor', 'kubernetes'], /--executor kubernetes: no such executor; choose one of local, slurm, pool/],
      [['--max-queued', '0'], /--max-queued 0: expected a whole number ≥ 1/],
      [['--resources', 'slow.gpus=two'], /--resources slow\.gpus=two: gpus must be a whole number/],
      [
        ['--resources', 'slow.disk=1T'],
        /--resources slow\.disk=1T: expected <stage>\.<cpus\|memory\|gpus\|time\|local>=<value>/,
      ],
      [['--resources', 'slow.local=yes'], /--resources slow\.local=yes: local must be true or false/],
      [['--group', '0'], /--group 0: expected a whole number ≥ 1 \(instances per cluster job\)/],
      [['--local-below=-1'], /--local-below -1: expected seconds ≥ 0/],
      [['--pilot-idle', 'soon'], /--pilot-idle soon: expected seconds ≥ 0 \(0: a cluster job per instance\)/],
      [['--pilot-ramp=-1'], /--pilot-ramp -1: expected seconds ≥ 0 \(0: start pilots at once\)/],
      [
        ['--index', 'mysql://db/x'],
        /--index mysql:\/\/db\/x: no index backend for 'mysql:'; use files, sqlite, postgres:\/\/…/,
      ],
      [['--index', 'not a uri'], /--index not a uri: not a URI/],
    ];
    project.takeExecutions(); // what earlier tests in this project ran
    for (const [flags, message] of cases) {
      const result = await project.linea(['run', ...flags]);
      assert.equal(result.code, 2, `${flags.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    assert.deepEqual(project.executions(), [], 'nothing ran');
  });

  it('an index server that is down is an error naming it, within seconds', async () => {
    const result = await project.linea(['status', '--index', 'postgres://nobody@127.0.0.1:9/none']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot reach the run index at postgres:\/\/nobody@127\.0\.0\.1:9\/none/);
  });

  it('a Redis index that is down is named with the cause, not with a driver option', async () => {
    const result = await project.linea(['status', '--index', 'redis://127.0.0.1:9']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot reach the run index at redis:\/\/127\.0\.0\.1:9\/? \(connect ECONNREFUSED/);
    assert.doesNotMatch(result.stderr, /throwOnConnectError/);
  });

  it('linea worker without a readable task says which directory and why', async () => {
    const result = await project.linea(['worker', '--task', join(project.dir, 'no-such-job')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot read the task in .*no-such-job/);
    const pilot = await project.linea(['worker', '--pilot', join(project.dir, 'no-such-pilot')]);
    assert.equal(pilot.code, 1);
    assert.match(pilot.stderr, /cannot read the pilot in .*no-such-pilot: ENOENT/);
  });
});
