// The repository's own bin runs the compiled engine (packages/engine/dist) once `npm run
// build:engine` has stamped the sources it compiled, and the engine from source when they have
// changed since; a project's pipeline and stages, which import the engine's sources, get the one
// engine that runs, with the same cache keys either way (src/engine/load/engine-source.ts).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { type SourceStamp, stampIsCurrent } from '../src/engine/load/engine-source.ts';
import { statOf } from '../src/engine/core/file-stat.ts';
import { makeProject, REPO, type RunJson, type StatusJson } from './helpers/project.ts';

describe("the repository's bin", () => {
  before(async () => {
    const build = await execa(process.execPath, ['scripts/build-engine.mjs', '--if-stale'], {
      cwd: REPO,
      reject: false,
    });
    assert.equal(build.exitCode, 0, build.stderr);
  });
  const project = makeProject();
  after(() => project.remove());

  it('runs the compiled engine, which the pipeline and its stages import, with the keys the source engine computes', async () => {
    const compiled = await project.linea(['run', '--json'], { LINEA_DEBUG: '1' });
    assert.equal(compiled.code, 0, compiled.stderr);
    assert.match(compiled.stderr, /running the compiled engine/);
    // Two engines in one process would be refused ("two copies of linea-engine cannot share stages").
    assert.doesNotMatch(compiled.stderr, /two copies/);
    const ran = JSON.parse(compiled.stdout) as RunJson;
    assert.ok(ran.stages.length > 0 && ran.stages.every((s) => s.status === 'ran'));
    const fromSource = await project.json<StatusJson>(['status'], { LINEA_ENGINE: 'source' });
    assert.deepEqual(
      fromSource.stages.map((s) => [s.id, s.key, s.state]),
      ran.stages.map((s) => [s.id, s.key, 'cached']),
      'the engine from source finds every result the compiled one wrote',
    );
    const source = await project.linea(['status'], { LINEA_ENGINE: 'source', LINEA_DEBUG: '1' });
    assert.doesNotMatch(source.stderr, /running the compiled engine/);
  });
});

describe("the build's stamp of the engine sources", () => {
  const dir = mkdtempSync(join(tmpdir(), 'linea-stamp-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const stampOf = (...files: string[]): SourceStamp => ({
    version: 1,
    files: Object.fromEntries(files.map((f) => [f, statOf(join(dir, f))!])),
  });

  it('is current until a stamped source is edited, replaced or removed', () => {
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 1;\n');
    writeFileSync(join(dir, 'src', 'b.ts'), 'export const b = 1;\n');
    const stamp = stampOf('src/a.ts', 'src/b.ts');
    assert.equal(stampIsCurrent(dir, stamp), true);
    writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 22;\n');
    assert.equal(stampIsCurrent(dir, stamp), false, 'an edit');
    const again = stampOf('src/a.ts', 'src/b.ts');
    rmSync(join(dir, 'src', 'b.ts'));
    assert.equal(stampIsCurrent(dir, again), false, 'a removed source');
  });

  it('is never current for a file stamped as saved too recently to trust, or for a malformed stamp', () => {
    writeFileSync(join(dir, 'c.ts'), 'export const c = 1;\n');
    assert.equal(stampIsCurrent(dir, { version: 1, files: { 'c.ts': [-1, -1, -1] } }), false);
    assert.equal(stampIsCurrent(dir, { version: 2 }), false);
    assert.equal(stampIsCurrent(dir, null), false);
  });
});
