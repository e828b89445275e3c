// Code digests are cached by file stat, then content (code.ts, stampedCodeDigests): an unchanged
// closure is answered from the stamps without an esbuild pass, one saved again unchanged by its
// bytes, and any change to a file of the closure (an edit, a replacement with equal size and
// mtime, a new import) digests it again.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { stampedCodeDigests } from '../src/engine/key/code.ts';

describe('code digests cached by stat', () => {
  let root: string;
  let stamps: string;
  let stage: string;
  let minutesAgo = 60;
  /** Give files an mtime in the past, a different one each call, as successive edits would have. */
  const age = (...files: string[]) => {
    const past = new Date(Date.now() - 60_000 * minutesAgo--);
    for (const f of files) utimesSync(join(root, f), past, past);
  };
  /** Stamps file with every stamped digest of `file` replaced by a marker: a hit returns the marker. */
  const plantMarker = () => {
    const parsed = JSON.parse(readFileSync(stamps, 'utf8')) as {
      modules: Record<string, { digest: { files: Record<string, string> } }>;
    };
    for (const entry of Object.values(parsed.modules))
      for (const f of Object.keys(entry.digest.files)) entry.digest.files[f] = 'from-the-stamps';
    writeFileSync(stamps, JSON.stringify(parsed));
  };
  const digest = async () => (await stampedCodeDigests(root, [stage], stamps)).get(stage)!;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'linea-stamps-'));
    mkdirSync(join(root, 'stages'));
    writeFileSync(join(root, 'stages', 'a.ts'), "import { b } from './b.ts';\nexport const a = b + 1;\n");
    writeFileSync(join(root, 'stages', 'b.ts'), 'export const b = 1;\n');
    writeFileSync(join(root, 'stages', 'c.ts'), 'export const c = 2;\n');
    age('stages/a.ts', 'stages/b.ts', 'stages/c.ts');
    stamps = join(root, 'cache', 'code-stamps.json');
    stage = pathToFileURL(join(root, 'stages', 'a.ts')).href;
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('answers an unchanged closure from the stamps', async () => {
    const first = await digest();
    assert.deepEqual(Object.keys(first.files), ['stages/a.ts', 'stages/b.ts']);
    plantMarker();
    assert.equal((await digest()).files['stages/b.ts'], 'from-the-stamps');
  });

  it('ignores stamps written under another ENGINE_VERSION (closures drawn another way)', async () => {
    await digest();
    plantMarker();
    const parsed = JSON.parse(readFileSync(stamps, 'utf8')) as { engine?: string };
    parsed.engine = 'an older engine';
    writeFileSync(stamps, JSON.stringify(parsed));
    assert.notEqual((await digest()).files['stages/b.ts'], 'from-the-stamps');
  });

  it('digests again when a file of the closure is edited', async () => {
    plantMarker();
    writeFileSync(join(root, 'stages', 'b.ts'), 'export const b = 5;\n');
    age('stages/b.ts');
    const after = await digest();
    assert.notEqual(after.files['stages/b.ts'], 'from-the-stamps');
    assert.notEqual(after.files['stages/a.ts'], 'from-the-stamps', 'the whole module is digested again');
  });

  it('digests again when a file is replaced by one of equal size and mtime (another inode)', async () => {
    await digest();
    plantMarker();
    const path = join(root, 'stages', 'b.ts');
    const before = statSync(path);
    writeFileSync(`${path}.new`, 'export const b = 7;\n');
    utimesSync(`${path}.new`, before.atime, before.mtime);
    renameSync(`${path}.new`, path);
    assert.equal(statSync(path).size, before.size);
    assert.notEqual((await digest()).files['stages/b.ts'], 'from-the-stamps');
  });

  it('follows a new import into the closure', async () => {
    await digest();
    writeFileSync(
      join(root, 'stages', 'a.ts'),
      "import { b } from './b.ts';\nimport { c } from './c.ts';\nexport const a = b + c;\n",
    );
    age('stages/a.ts');
    assert.deepEqual(Object.keys((await digest()).files), ['stages/a.ts', 'stages/b.ts', 'stages/c.ts']);
  });

  it('answers a closure saved again unchanged (new stats, same bytes) from the stamps, without esbuild', async () => {
    await digest();
    plantMarker();
    const path = join(root, 'stages', 'b.ts');
    writeFileSync(`${path}.new`, readFileSync(path));
    renameSync(`${path}.new`, path);
    age('stages/b.ts');
    assert.equal((await digest()).files['stages/b.ts'], 'from-the-stamps');
    // …and stamps the new stat, so the next command does not read the file again.
    const parsed = JSON.parse(readFileSync(stamps, 'utf8')) as {
      modules: Record<string, { files: Record<string, { stat?: number[] }> }>;
    };
    const stat = statSync(path);
    assert.deepEqual(Object.values(parsed.modules)[0]!.files[path]!.stat, [stat.size, stat.mtimeMs, stat.ino]);
  });

  it('does not trust the stat of a file edited moments ago: an edit in the same mtime tick is seen by its bytes', async () => {
    const path = join(root, 'stages', 'c.ts');
    const now = Date.now() / 1000;
    writeFileSync(path, 'export const c = 3;\n');
    utimesSync(path, now, now);
    await digest();
    plantMarker();
    const before = statSync(path);
    writeFileSync(path, 'export const c = 4;\n');
    utimesSync(path, now, now);
    const after = statSync(path);
    assert.deepEqual([after.size, after.mtimeMs, after.ino], [before.size, before.mtimeMs, before.ino], 'same stat');
    assert.notEqual((await digest()).files['stages/c.ts'], 'from-the-stamps');
  });

  it('treats unreadable stamps as none', async () => {
    writeFileSync(stamps, '{ not json');
    assert.deepEqual(Object.keys((await digest()).files), ['stages/a.ts', 'stages/b.ts', 'stages/c.ts']);
  });
});
