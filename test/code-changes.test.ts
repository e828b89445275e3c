// Code is part of the key: edits to a stage or anything it imports rerun exactly the stages
// that import it; comments and formatting do not; reverting is a cache hit again.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeProject, states, statuses, type Project, type RunJson, type StatusJson } from './helpers/project.ts';

describe('code changes', () => {
  let project: Project;
  let original: string;
  before(async () => {
    project = makeProject();
    await project.json<RunJson>(['run']);
    project.takeExecutions();
    original = project.read('stages/lib/deep.ts');
  });
  after(() => project.remove());

  it('a comment or formatting edit in a helper reruns nothing', async () => {
    project.edit(
      'stages/lib/deep.ts',
      (t) => `// a new comment\n${t.replace('export const offset = 0;', 'export   const offset=0 ; /* more */')}`,
    );
    project.edit('stages/source.ts', (t) => t.replace('run: async (ctx) => {', 'run: async (ctx) => { // commented\n'));
    const status = await project.json<StatusJson>(['status']);
    assert.ok(
      status.stages.every((s) => s.state === 'cached'),
      JSON.stringify(states(status)),
    );
    const run = await project.json<RunJson>(['run']);
    assert.ok(run.stages.every((s) => s.status === 'cached'));
    assert.deepEqual(project.takeExecutions(), []);
  });

  it('an edit to a transitively imported helper reruns the stages that import it, and their dependents only', async () => {
    project.write('stages/lib/deep.ts', original.replace('export const offset = 0;', 'export const offset = 1;'));
    const status = await project.json<StatusJson>(['status']);
    const double = status.stages.find((s) => s.id === 'double')!;
    assert.equal(double.state, 'stale');
    assert.deepEqual(
      double.reasons.map((r) => r.message),
      ['code: stages/lib/deep.ts changed'],
    );
    assert.equal(states(status).square, 'cached');
    const run = await project.json<RunJson>(['run']);
    assert.deepEqual(statuses(run), { source: 'cached', double: 'ran', square: 'cached', sum: 'ran', slow: 'cached' });
    assert.deepEqual(project.takeExecutions(), ['double', 'sum']);
  });

  it('reverting the edit is a cache hit again', async () => {
    project.write('stages/lib/deep.ts', original);
    const run = await project.json<RunJson>(['run']);
    assert.ok(
      run.stages.every((s) => s.status === 'cached'),
      JSON.stringify(statuses(run)),
    );
    assert.deepEqual(project.takeExecutions(), []);
  });

  it('a new import in a stage adds the file to its closure', async () => {
    project.write('stages/lib/extra.ts', 'export const extra = 1;\n');
    project.edit('stages/square.ts', (t) =>
      t.replace("from './record.ts';", "from './record.ts';\nimport { extra } from './lib/extra.ts';\nvoid extra;"),
    );
    const status = await project.json<StatusJson>(['status']);
    const square = status.stages.find((s) => s.id === 'square')!;
    assert.deepEqual(square.reasons.map((r) => r.message).sort(), [
      'code: stages/lib/extra.ts added',
      'code: stages/square.ts changed',
    ]);
    assert.equal(states(status).double, 'cached');
  });
});
