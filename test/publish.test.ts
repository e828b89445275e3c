// A publishing stage's files are copied to --out after every run, cached or not; a no-op rerun
// whose target still holds exactly that result leaves it as it is, and one whose files were
// edited or removed copies them back.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeProject, type RunJson } from './helpers/project.ts';

describe('publishing', () => {
  const project = makeProject();
  after(() => project.remove());
  const out = join(project.dir, 'published');
  const run = () =>
    project.json<RunJson>(['run', '--pipeline', 'publish.pipeline.ts', '--out', out, '--set', 'summary.files=3']);
  const inode = (name: string) => statSync(join(out, name)).ino;

  it('copies nothing on a rerun whose target is untouched, and restores edited or removed files', async () => {
    const first = await run();
    assert.deepEqual(first.published, [{ instance: 'summary', dir: out }]);
    const original = readFileSync(join(out, 'part-1.txt'), 'utf8');
    const before = [inode('part-0.txt'), inode('part-1.txt')];
    const again = await run();
    assert.deepEqual(again.published, first.published, 'still reported as published');
    assert.deepEqual([inode('part-0.txt'), inode('part-1.txt')], before, 'the same files: nothing was copied');
    writeFileSync(join(out, 'part-1.txt'), 'edited by hand\n');
    await run();
    assert.equal(readFileSync(join(out, 'part-1.txt'), 'utf8'), original, 'an edited file is copied back');
    rmSync(join(out, 'part-2.txt'));
    await run();
    assert.equal(readFileSync(join(out, 'part-2.txt'), 'utf8').length > 0, true, 'a removed file is copied back');
  });
});
