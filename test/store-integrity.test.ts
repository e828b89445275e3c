// The index only points into the store: a deleted or damaged object is a miss and is
// recomputed, never a crash; `linea verify` reports damage.
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeProject, statuses, type Project, type RunJson, type StatusJson } from './helpers/project.ts';

describe('store integrity', () => {
  let project: Project;
  before(async () => {
    project = makeProject();
    await project.json<RunJson>(['run']);
    project.takeExecutions();
  });
  after(() => project.remove());

  const objectOf = async (instance: string): Promise<string> => {
    const log = await project.json<{ runs: { instance: string; digest: string }[] }>(['log', instance]);
    const digest = log.runs[0]!.digest;
    return join(project.cacheDir, 'objects', digest.slice(0, 2), digest.slice(2));
  };

  it('recomputes a result whose object was deleted', async () => {
    rmSync(await objectOf('square'), { recursive: true, force: true });
    const status = await project.json<StatusJson>(['status']);
    const square = status.stages.find((s) => s.id === 'square')!;
    assert.equal(square.state, 'stale');
    assert.match(square.reasons[0]!.message, /missing/);
    const run = await project.json<RunJson>(['run']);
    assert.equal(statuses(run).square, 'ran');
    assert.equal(statuses(run).sum, 'cached', 'same output again: sum stays cached');
    assert.deepEqual(project.takeExecutions(), ['square']);
  });

  it('recomputes a result whose file was corrupted, and verify reports it first', async () => {
    const dir = await objectOf('source');
    const file = join(dir, 'files', 'numbers.txt');
    chmodSync(file, 0o644);
    writeFileSync(file, 'garbage');
    const verify = await project.linea(['verify']);
    assert.equal(verify.code, 1);
    assert.match(verify.stdout, /corrupted file numbers\.txt/);
    const run = await project.json<RunJson>(['run']);
    assert.equal(statuses(run).source, 'ran');
    assert.deepEqual(project.takeExecutions(), ['source']);
    const again = await project.linea(['verify']);
    assert.equal(again.code, 0, again.stdout);
  });

  it('recomputes when the manifest itself is damaged', async () => {
    const dir = await objectOf('double');
    const manifest = join(dir, 'manifest.json');
    chmodSync(manifest, 0o644);
    writeFileSync(manifest, '{"value":{"value":999},"files":{}}');
    const run = await project.json<RunJson>(['run']);
    assert.equal(statuses(run).double, 'ran');
    assert.deepEqual(project.takeExecutions(), ['double']);
  });

  it('leaves no workspace behind after runs', async () => {
    assert.deepEqual(readdirSync(join(project.cacheDir, 'tmp')), []);
  });
});
