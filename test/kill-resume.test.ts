// kill -9 in the middle of a stage: nothing partial becomes visible, the store stays valid, and
// the rerun resumes the stage from its last checkpoint and redoes only what was not committed.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeProject, parseExecution, statuses, type Project, type RunJson } from './helpers/project.ts';

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('kill -9 and resume', () => {
  const projects: Project[] = [];
  after(() => {
    for (const p of projects) p.remove();
  });

  for (const jobs of ['1', '2']) {
    it(`a killed run (--jobs ${jobs}) leaves a valid store and the rerun resumes from the checkpoint`, async () => {
      const project = makeProject();
      projects.push(project);
      const args = ['run', '--jobs', jobs, '--set', 'slow.steps=6', '--set', 'slow.stepMs=150'];
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
      const start = project
        .executions()
        .map(parseExecution)
        .find((e) => e.instance === 'slow' && e.note?.startsWith('start='))!;
      const resumedFrom = Number(start.note!.slice('start='.length));
      assert.ok(resumedFrom >= reached, `resumed from step ${resumedFrom}, the kill came after step ${reached}`);
      assert.ok(resumedFrom > 0);
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
  }
});
