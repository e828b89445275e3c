// The in-use records gc reads (activity.ts): a run's digests are readable as soon as `use`
// resolves, a torn last line is not a digest, a dead run's file is removed, and a run's own file
// goes when it closes.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ActiveRun, digestsInUse } from '../src/engine/coordinate/activity.ts';
import type { ArtifactDigest } from '../src/engine/core/json.ts';
import { hostName } from '../src/engine/core/process.ts';

const digest = (n: number) => n.toString(16).padStart(64, '0') as ArtifactDigest;

describe('in-use records', () => {
  const dir = mkdtempSync(join(tmpdir(), 'linea-active-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names each digest once use resolves, and a torn line is ignored', async () => {
    const run = new ActiveRun(dir);
    for (let i = 1; i <= 50; i++) await run.use(digest(i));
    await run.use(digest(3)); // again: recorded once
    const [file] = readdirSync(dir);
    appendFileSync(join(dir, file!), digest(99).slice(0, 30)); // a write cut short
    const inUse = await digestsInUse(dir);
    assert.equal(inUse.size, 50);
    assert.ok(inUse.has(digest(50)) && !inUse.has(digest(99)));
    await run.close();
    assert.deepEqual(readdirSync(dir), [], 'a run removes its file when it ends');
  });

  it('still reads the one-document file of a run of an earlier version', async () => {
    const earlier = join(dir, 'earlier.json');
    writeFileSync(earlier, JSON.stringify({ host: hostName(), pid: process.pid, digests: [digest(5), digest(6)] }));
    assert.deepEqual([...(await digestsInUse(dir))].sort(), [digest(5), digest(6)]);
    rmSync(earlier);
  });

  it("removes a dead run's file and keeps nothing it named", async () => {
    const dead = join(dir, 'dead.json');
    writeFileSync(dead, `${JSON.stringify({ host: hostName(), pid: 2 ** 22 + 1 })}\n${digest(7)}\n`);
    assert.equal((await digestsInUse(dir)).size, 0);
    assert.deepEqual(readdirSync(dir), []);
  });
});
