// Data a stage reads at run time is in its key through `env`: new bytes rerun it; the same bytes
// rewritten (a new mtime) or the same file under another name do not.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeProject, statuses, type Project, type RunJson } from './helpers/project.ts';

describe('data files in the key', () => {
  let project: Project;
  const run = (args: string[] = []) => project.json<RunJson>(['run', '--pipeline', 'data.pipeline.ts', ...args]);
  before(() => {
    project = makeProject();
    project.write('input.txt', 'first');
  });
  after(() => project.remove());

  it('reruns when the file changes, not when it is rewritten unchanged or copied elsewhere', async () => {
    assert.equal(statuses(await run())['read-data'], 'ran');
    project.write('input.txt', 'first');
    assert.equal(statuses(await run())['read-data'], 'cached');
    project.write('copy.txt', 'first');
    const copied = await run(['--set', 'read-data.path=copy.txt']);
    assert.equal(statuses(copied)['read-data'], 'ran', 'another path is another param');
    project.write('input.txt', 'second');
    const status = await project.json<{ stages: { id: string; state: string; reasons: { field: string }[] }[] }>([
      'status',
      '--pipeline',
      'data.pipeline.ts',
    ]);
    assert.equal(status.stages[0]!.state, 'stale');
    // The last run read copy.txt, so the path differs too; the data digest must be a reason.
    assert.ok(
      status.stages[0]!.reasons.some((r) => r.field === 'env.data'),
      JSON.stringify(status.stages[0]!.reasons),
    );
    assert.equal(statuses(await run())['read-data'], 'ran');
    assert.deepEqual(project.takeExecutions(), ['read-data', 'read-data', 'read-data']);
  });

  it('hashes a data file once per version: later commands trust its stamp while its stat is unchanged', async () => {
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const file = join(project.dir, 'stamped.txt');
    project.write('stamped.txt', 'stamped');
    // Saved a minute ago: a file saved in the last two seconds is never stamped.
    const past = new Date(Date.now() - 60_000);
    utimesSync(file, past, past);
    assert.equal(statuses(await run(['--set', 'read-data.path=stamped.txt']))['read-data'], 'ran');
    const stampFile = join(project.cacheDir, 'data-stamps.json');
    const stamps = JSON.parse(readFileSync(stampFile, 'utf8')) as { files: Record<string, { digest: string }> };
    assert.equal(stamps.files[file]?.digest, sha('stamped'));
    // A stamp is believed without reading the file: one that lies changes the key.
    stamps.files[file] = { ...stamps.files[file]!, digest: sha('a lie') };
    writeFileSync(stampFile, JSON.stringify(stamps));
    const status = () =>
      project.json<{ stages: { state: string }[] }>([
        'status',
        '--pipeline',
        'data.pipeline.ts',
        '--set',
        'read-data.path=stamped.txt',
      ]);
    assert.equal((await status()).stages[0]!.state, 'stale');
    // A new stat (the same bytes saved again) is hashed again, and the key is the real one.
    utimesSync(file, new Date(Date.now() - 30_000), new Date(Date.now() - 30_000));
    assert.equal((await status()).stages[0]!.state, 'cached');
  });

  it('a missing data file is an error that names it', async () => {
    const result = await project.linea([
      'run',
      '--pipeline',
      'data.pipeline.ts',
      '--set',
      'read-data.path=missing.txt',
    ]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /data file .*missing\.txt does not exist/);
  });
});
