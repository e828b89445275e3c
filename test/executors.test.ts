// The executor conformance suite: every executor (executors.ts) passes the same behaviours on the
// same toy pipeline. One execution per key; a failure is reported and blocks its dependents;
// Ctrl-C starts nothing new and commits nothing partial; kill -9 of the driver in the middle of
// a stage leaves a valid store, and the rerun resumes the stage from its last checkpoint.
// $LINEA_TEST_EXECUTORS adds executors that need outside services (e.g. slurm).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freshProjects, parseExecution, type RunJson, statuses, waitFor } from './helpers/project.ts';

const EXECUTORS: Record<string, string[]> = {
  local: ['--executor', 'local'],
  pool: ['--executor', 'pool', '--jobs', '2'],
  ...Object.fromEntries(
    (process.env.LINEA_TEST_EXECUTORS ?? '')
      .split(',')
      .filter(Boolean)
      .map((name) => [name, ['--executor', name, '--jobs', '4']]),
  ),
};

for (const [name, flags] of Object.entries(EXECUTORS)) {
  describe(`executor ${name}`, () => {
    const fresh = freshProjects();

    it('runs each key once, and a second run finds everything cached', async () => {
      const project = fresh();
      const args = ['run', ...flags, '--ablate', 'factor=2,3', '--json'];
      const first = await project.json<RunJson>(args);
      assert.ok(
        first.stages.every((s) => s.status === 'ran'),
        JSON.stringify(first.stages),
      );
      const ran = project.takeExecutions();
      assert.equal(ran.length, new Set(first.stages.map((s) => s.key)).size, 'one execution per distinct key');
      const second = await project.json<RunJson>(args);
      assert.ok(second.stages.every((s) => s.status === 'cached'));
      assert.deepEqual(project.takeExecutions(), []);
    });

    it('reports a failure with its message and blocks its dependents', async () => {
      const project = fresh();
      const result = await project.linea(['run', ...flags, '--pipeline', 'failing.pipeline.ts', '--json']);
      assert.equal(result.code, 1);
      const run = JSON.parse(result.stdout) as RunJson;
      assert.deepEqual(statuses(run), { source: 'failed', double: 'failed', other: 'ran', square: 'ran' });
      assert.match(result.stderr, /source failed: source was asked to fail/);
      assert.match(result.stderr, /double failed: blocked: upstream source failed/);
    });

    it('Ctrl-C stops the run with exit 130, a valid store, and a rerun that finishes', async () => {
      const project = fresh();
      const args = ['run', ...flags, '--only', 'slow', '--set', 'slow.steps=20', '--set', 'slow.stepMs=100'];
      const child = project.spawn(args);
      await waitFor(() => project.executions().some((line) => line.startsWith('slow ')), 'slow to start');
      child.kill('SIGINT');
      const result = await child;
      assert.equal(result.exitCode, 130, String(result.stderr));
      assert.match(String(result.stderr), /interrupted/);
      const verify = await project.linea(['verify']);
      assert.equal(verify.code, 0, verify.stdout);
      const rerun = await project.linea(args);
      assert.equal(rerun.code, 0, rerun.stderr);
    });

    it('a killed driver leaves a valid store; the rerun resumes (or adopts) the stage', async () => {
      const project = fresh();
      const args = ['run', ...flags, '--set', 'slow.steps=6', '--set', 'slow.stepMs=150'];
      const child = project.spawn(args);
      const steps = () =>
        project
          .executions()
          .map(parseExecution)
          .filter((e) => e.instance === 'slow' && e.note?.startsWith('step='));
      await waitFor(() => steps().length >= 2, 'slow to checkpoint twice');
      child.kill('SIGKILL');
      await child;
      const reached = Number(steps().at(-1)!.note!.slice('step='.length));
      assert.ok(reached < 6, 'killed before the stage finished');

      const verify = await project.linea(['verify']);
      assert.equal(verify.code, 0, verify.stdout);
      const status = await project.json<{ stages: { id: string; state: string }[] }>(['status']);
      assert.notEqual(status.stages.find((s) => s.id === 'slow')!.state, 'cached', 'no partial result is visible');
      project.takeExecutions();

      const rerun = await project.json<RunJson>(args);
      assert.equal(statuses(rerun).slow, 'ran');
      assert.equal(statuses(rerun).source, 'cached', 'what was committed before the kill is not redone');
      // Either the stage restarted from its last checkpoint (local, pool), or its job outlived the
      // driver and was adopted (cluster executors): no step before the kill is done again.
      const start = project
        .executions()
        .map(parseExecution)
        .find((e) => e.instance === 'slow' && e.note?.startsWith('start='));
      if (start) {
        const resumedFrom = Number(start.note!.slice('start='.length));
        assert.ok(resumedFrom >= reached, `resumed from step ${resumedFrom}, the kill came after step ${reached}`);
        assert.ok(resumedFrom > 0);
      }
      const redone = steps().filter((e) => Number(e.note!.slice('step='.length)) <= reached);
      assert.deepEqual(redone, [], 'no step done before the kill is done again');
      const log = await project.json<{ runs: { fingerprint: unknown; digest: string }[] }>(['log', 'slow']);
      assert.equal(log.runs.length, 1);
      assert.deepEqual(
        readdirSync(join(project.cacheDir, 'checkpoints')),
        [],
        'checkpoints are dropped once the result commits',
      );
      assert.deepEqual(readdirSync(join(project.cacheDir, 'tmp')), [], 'the killed run’s workspace was swept');
      assert.deepEqual(
        readdirSync(join(project.cacheDir, 'leases')).filter((f) => f.endsWith('.lease')),
        [],
        'no lease left behind',
      );
    });
  });
}
