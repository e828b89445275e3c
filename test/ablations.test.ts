// Ablation axes expand the DAG into variants; instances no chosen axis reaches are shared and run once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeProject, statuses, type Project, type RunJson } from './helpers/project.ts';

describe('ablations', () => {
  let project: Project;
  before(() => {
    project = makeProject();
  });
  after(() => project.remove());

  it('--ablate runs one variant per value and shares the upstream instances', async () => {
    const run = await project.json<RunJson>(['run', '--ablate', 'factor=2,3', '--only', 'sum']);
    assert.deepEqual(Object.keys(statuses(run)).sort(), ['double[factor=2]', 'double[factor=3]', 'source', 'square', 'sum[factor=2]', 'sum[factor=3]']);
    assert.deepEqual(project.takeExecutions(), ['double[factor=2]', 'double[factor=3]', 'source', 'square', 'sum[factor=2]', 'sum[factor=3]']);
  });

  it('adding a value runs only the new variant', async () => {
    const run = await project.json<RunJson>(['run', '--ablate', 'factor=2,3,4', '--only', 'sum']);
    assert.equal(statuses(run)['double[factor=4]'], 'ran');
    assert.equal(statuses(run)['double[factor=3]'], 'cached');
    assert.deepEqual(project.takeExecutions(), ['double[factor=4]', 'sum[factor=4]']);
  });

  it('two axes give the cartesian product; a literal value outside the list is accepted for a single-param axis', async () => {
    const run = await project.json<RunJson>(['run', '--ablate', 'factor=2,10', '--ablate', 'size=small,large', '--only', 'double']);
    assert.deepEqual(Object.keys(statuses(run)).sort(), [
      'double[factor=10,size=large]',
      'double[factor=10,size=small]',
      'double[factor=2,size=large]',
      'double[factor=2,size=small]',
      'source[size=large]',
      'source[size=small]',
    ]);
  });

  it('a variant equal to the default shares its key with the plain run', async () => {
    const plain = await project.json<RunJson>(['run', '--only', 'double']);
    const variant = await project.json<RunJson>(['run', '--only', 'double', '--ablate', 'factor=2']);
    assert.equal(variant.stages.find((s) => s.id === 'double[factor=2]')!.key, plain.stages.find((s) => s.id === 'double')!.key);
    assert.ok(variant.stages.every((s) => s.status === 'cached'));
  });

  it('a preset can choose ablation values', async () => {
    const run = await project.json<RunJson>(['run', '--preset', 'wide', '--only', 'double']);
    assert.deepEqual(Object.keys(statuses(run)).sort(), ['double[factor=2]', 'double[factor=3]', 'source']);
  });
});
