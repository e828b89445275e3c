// Ablation axes expand the DAG into variants; instances no chosen axis reaches are shared and run once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rmSync } from 'node:fs';
import { makeProject, parseExecution, statuses, type Project, type RunJson } from './helpers/project.ts';

describe('ablations', () => {
  let project: Project;
  before(() => {
    project = makeProject();
  });
  after(() => project.remove());

  it('--ablate runs one variant per value and shares the upstream instances', async () => {
    const run = await project.json<RunJson>(['run', '--ablate', 'factor=2,3', '--only', 'sum']);
    assert.deepEqual(Object.keys(statuses(run)).sort(), [
      'double[factor=2]',
      'double[factor=3]',
      'source',
      'square',
      'sum[factor=2]',
      'sum[factor=3]',
    ]);
    assert.deepEqual(project.takeExecutions(), [
      'double[factor=2]',
      'double[factor=3]',
      'source',
      'square',
      'sum[factor=2]',
      'sum[factor=3]',
    ]);
  });

  it('adding a value runs only the new variant', async () => {
    const run = await project.json<RunJson>(['run', '--ablate', 'factor=2,3,4', '--only', 'sum']);
    assert.equal(statuses(run)['double[factor=4]'], 'ran');
    assert.equal(statuses(run)['double[factor=3]'], 'cached');
    assert.deepEqual(project.takeExecutions(), ['double[factor=4]', 'sum[factor=4]']);
  });

  it('two axes give the cartesian product; a literal value outside the list is accepted for a single-param axis', async () => {
    const run = await project.json<RunJson>([
      'run',
      '--ablate',
      'factor=2,10',
      '--ablate',
      'size=small,large',
      '--only',
      'double',
    ]);
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
    assert.equal(
      variant.stages.find((s) => s.id === 'double[factor=2]')!.key,
      plain.stages.find((s) => s.id === 'double')!.key,
    );
    assert.ok(variant.stages.every((s) => s.status === 'cached'));
  });

  it('--set on the param an axis sweeps runs that one value instead of the sweep; --ablate axis= turns an axis off', async () => {
    const run = await project.json<RunJson>([
      'run',
      '--preset',
      'wide',
      '--only',
      'double',
      '--set',
      'double.factor=5',
    ]);
    assert.deepEqual(Object.keys(statuses(run)).sort(), ['double', 'source']);
    const off = await project.json<RunJson>(['run', '--preset', 'wide', '--only', 'double', '--ablate', 'factor=']);
    assert.deepEqual(Object.keys(statuses(off)).sort(), ['double', 'source']);
  });

  it('a preset can choose ablation values', async () => {
    const run = await project.json<RunJson>(['run', '--preset', 'wide', '--only', 'double']);
    assert.deepEqual(Object.keys(statuses(run)).sort(), ['double[factor=2]', 'double[factor=3]', 'source']);
  });
});

describe('gathered inputs', () => {
  let project: Project;
  before(() => {
    project = makeProject();
  });
  after(() => project.remove());
  const gathered = (args: string[]) => project.json<RunJson>(['run', '--pipeline', 'gather.pipeline.ts', ...args]);
  const collected = async (args: string[] = []) => {
    const status = await project.json<{ stages: { id: string; key: string }[] }>([
      'status',
      '--pipeline',
      'gather.pipeline.ts',
      ...args,
    ]);
    return status;
  };

  it('one gathering instance sees every variant of the sweep with its labels', async () => {
    const run = await gathered(['--ablate', 'factor=2,3', '--ablate', 'size=small,large']);
    const ids = Object.keys(statuses(run)).sort();
    assert.ok(ids.includes('collect'), `one collect instance, not one per variant: ${ids.join(' ')}`);
    assert.equal(ids.filter((id) => id.startsWith('collect')).length, 1);
    const executed = project.takeExecutions();
    assert.equal(executed.filter((e) => e.startsWith('double')).length, 4);
    const log = await project.json<{ runs: { upstream: Record<string, string> }[] }>([
      'log',
      'collect',
      '--pipeline',
      'gather.pipeline.ts',
    ]);
    assert.deepEqual(Object.keys(log.runs[0]!.upstream).sort(), [
      'doubles@double[factor=2,size=large]',
      'doubles@double[factor=2,size=small]',
      'doubles@double[factor=3,size=large]',
      'doubles@double[factor=3,size=small]',
    ]);
  });

  it('the gathering stage gets values and labels; a new value reruns it, the old variants stay cached', async () => {
    rmSync(project.logFile, { force: true });
    await gathered(['--cache-dir', 'cache2', '--ablate', 'factor=2,3', '--ablate', 'size=small,large']);
    const saw = project
      .executions()
      .map(parseExecution)
      .find((e) => e.note?.startsWith('saw='))!
      .note!.slice(4)
      .split(';')
      .sort();
    // source n is 2 (small) or 5 (large); double multiplies by the factor.
    assert.deepEqual(saw, [
      'factor=2|size=large:10',
      'factor=2|size=small:4',
      'factor=3|size=large:15',
      'factor=3|size=small:6',
    ]);
    project.takeExecutions();
    const run = await gathered(['--cache-dir', 'cache2', '--ablate', 'factor=2,3,4', '--ablate', 'size=small,large']);
    assert.deepEqual(project.takeExecutions(), [
      'collect',
      'double[factor=4,size=large]',
      'double[factor=4,size=small]',
    ]);
    assert.equal(statuses(run)['double[factor=2,size=small]'], 'cached');
  });

  it('an axis that sets the gathering stage itself splits it, each copy gathering the whole sweep', async () => {
    const run = await gathered(['--ablate', 'factor=2,3', '--ablate', 'mode=a,b']);
    const ids = Object.keys(statuses(run))
      .filter((id) => id.startsWith('collect'))
      .sort();
    assert.deepEqual(ids, ['collect[mode=a]', 'collect[mode=b]']);
    const status = await collected(['--ablate', 'factor=2,3', '--ablate', 'mode=a,b']);
    assert.ok(
      status.stages.every((s) => s.id !== 'double[factor=2,mode=a]'),
      "the gathering stage's own axis does not split its producer",
    );
  });
});
