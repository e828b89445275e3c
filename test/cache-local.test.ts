// Second runs, param changes, early cutoff and --only: what reruns and what does not.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeProject, statuses, type Project, type RunJson } from './helpers/project.ts';

describe('local cache', () => {
  let project: Project;
  before(() => {
    project = makeProject();
  });
  after(() => project.remove());

  it('runs every stage once, then finds everything cached', async () => {
    const first = await project.json<RunJson>(['run']);
    assert.deepEqual(statuses(first), { source: 'ran', double: 'ran', square: 'ran', sum: 'ran', slow: 'ran' });
    assert.deepEqual(project.takeExecutions(), ['double', 'slow', 'source', 'square', 'sum']);
    const second = await project.json<RunJson>(['run']);
    assert.deepEqual(statuses(second), {
      source: 'cached',
      double: 'cached',
      square: 'cached',
      sum: 'cached',
      slow: 'cached',
    });
    assert.deepEqual(project.takeExecutions(), []);
    assert.deepEqual(
      second.stages.map((s) => s.key),
      first.stages.map((s) => s.key),
    );
  });

  it('reruns a stage whose param changed, and only its dependents', async () => {
    const run = await project.json<RunJson>(['run', '--set', 'double.factor=5']);
    assert.deepEqual(statuses(run), { source: 'cached', double: 'ran', square: 'cached', sum: 'ran', slow: 'cached' });
    assert.deepEqual(project.takeExecutions(), ['double', 'sum']);
  });

  it('cuts off early: an upstream rerun with identical output leaves dependents cached', async () => {
    const run = await project.json<RunJson>(['run', '--set', 'source.label=other']);
    assert.equal(statuses(run).source, 'ran');
    assert.deepEqual(project.takeExecutions(), ['source']);
    for (const id of ['double', 'square', 'sum', 'slow']) assert.equal(statuses(run)[id], 'cached', id);
  });

  it('--only runs a stage and what it needs, nothing downstream', async () => {
    const run = await project.json<RunJson>(['run', '--only', 'double', '--set', 'source.n=7']);
    assert.deepEqual(statuses(run), { source: 'ran', double: 'ran' });
    assert.deepEqual(project.takeExecutions(), ['double', 'source']);
  });

  it('a preset applies its overrides; going back to the defaults is a cache hit', async () => {
    const small = await project.json<RunJson>(['run', '--preset', 'small']);
    assert.equal(statuses(small).source, 'ran');
    project.takeExecutions();
    const back = await project.json<RunJson>(['run']);
    assert.ok(back.stages.every((s) => s.status === 'cached'));
    assert.deepEqual(project.takeExecutions(), []);
  });

  it('prints a summary table on stdout and exits 0', async () => {
    const result = await project.linea(['run']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /stage\s+status\s+seconds/);
    assert.match(result.stdout, /sum\s+cached/);
    assert.match(result.stdout, /0 ran, 5 cached, 0 failed/);
  });

  it('a --cache-dir whose parent folders do not exist yet is made, as mkdir -p would', async () => {
    const cache = join(project.dir, 'not', 'yet', 'cache');
    const result = await project.linea(['run', '--only', 'source', '--cache-dir', cache]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(existsSync(join(cache, 'objects')), 'the cache was made');
  });
});
