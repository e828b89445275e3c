// An engine change does not invalidate results: a stage's code digest stops at the engine (as it
// stops at the installed linea-engine package), and ENGINE_VERSION is the engine's only part in a
// key. The second test is the reminder that keeps that honest: when the files that decide what a
// stage computes or how its result is stored change, it fails until someone decides whether the
// change needs a new ENGINE_VERSION (every result recomputed) or not (the pinned digest updated).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { digestCode, normalisedFileDigest } from '../src/engine/key/code.ts';
import { ENGINE_VERSION } from '../src/engine/key/fingerprint.ts';
import { linkNodeModules, makeProject, type StatusJson, states } from './helpers/project.ts';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * The engine files behind a result: the key (fingerprint, code, json), the context a stage runs
 * with (stage), how a result is written and read back (store, publish, data-files), and the
 * public entry stages import. Scheduling, commands, indexes and leases are not here: they decide
 * when and where a stage runs, not what it returns.
 */
const RESULT_FILES = [
  'src/index.ts',
  'src/engine/key/code.ts',
  'src/engine/key/data-files.ts',
  'src/engine/key/fingerprint.ts',
  'src/engine/core/json.ts',
  'src/engine/schedule/publish.ts',
  'src/engine/define/stage.ts',
  'src/engine/store/store.ts',
];

/** ENGINE_VERSION and the digest of RESULT_FILES it was last checked against. */
const PINNED = { engineVersion: '2', digest: '06c09e811ed10033' };

describe('engine version', () => {
  it("a stage's code digest holds its own and the models' files, none of the engine's", async () => {
    const url = pathToFileURL(resolve(ROOT, 'stages/sparsify.ts')).href;
    const digest = (await digestCode(ROOT, [url])).get(url)!;
    const files = Object.keys(digest.files);
    assert.ok(files.includes('stages/sparsify.ts'), files.join(', '));
    assert.ok(
      files.some((f) => f.startsWith('src/models/')),
      files.join(', '),
    );
    assert.deepEqual(
      files.filter((f) => f.startsWith('src/engine/') || f === 'src/index.ts'),
      [],
    );
  });

  it('the files behind a result are as they were when ENGINE_VERSION was last decided', async () => {
    const hash = createHash('sha256');
    for (const file of RESULT_FILES) hash.update(`${file}\0${await normalisedFileDigest(resolve(ROOT, file))}\n`);
    const digest = hash.digest('hex').slice(0, 16);
    assert.deepEqual(
      { engineVersion: ENGINE_VERSION, digest },
      PINNED,
      `The engine files that decide what a stage computes or how its result is stored changed (${RESULT_FILES.join(', ')}). ` +
        'If the change alters a result, its record or its layout, bump ENGINE_VERSION in src/engine/key/fingerprint.ts (every result is recomputed); ' +
        `otherwise leave it. Then set PINNED in test/engine-version.test.ts to { engineVersion: '${ENGINE_VERSION}', digest: '${digest}' }.`,
    );
  });

  it('an engine edit leaves a cached toy pipeline cached; a stage edit still reruns it', () => {
    // A private copy of linea (its sources copied, its node_modules linked), so that its engine
    // can be edited without touching the repository other tests run from.
    const copy = mkdtempSync(join(tmpdir(), 'linea-engine-copy-'));
    const project = makeProject();
    try {
      for (const part of ['bin', 'src', 'package.json'])
        cpSync(join(ROOT, part), join(copy, part), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
      rmSync(join(project.dir, 'node_modules'), { recursive: true, force: true });
      linkNodeModules(project.dir, copy);
      const linea = (args: string[]) =>
        execFileSync(process.execPath, [join(copy, 'bin', 'linea.js'), ...args, '--json'], {
          cwd: project.dir,
          env: { ...process.env, CI: 'true', LINEA_TEST_LOG: project.logFile },
          encoding: 'utf8',
        });
      const status = () => states(JSON.parse(linea(['status'])) as StatusJson);
      linea(['run']);
      // A real change to the scheduler and to the store (not a comment: comments do not count).
      appendFileSync(join(copy, 'src/engine/schedule/run.ts'), '\nexport const scheduledBy = "an edited engine";\n');
      appendFileSync(
        join(copy, 'src/engine/store/store.ts'),
        '\nexport function storeEdited(): number {\n  return 1;\n}\n',
      );
      assert.deepEqual(
        Object.values(status()).filter((state) => state !== 'cached'),
        [],
        'an engine edit reruns nothing',
      );
      project.edit('stages/lib/deep.ts', (text) =>
        text.replace('export const offset = 0;', 'export const offset = 1;'),
      );
      const after = status();
      assert.equal(after.double, 'stale', 'a stage whose local import changed reruns');
      assert.equal(after.square, 'cached');
    } finally {
      project.remove();
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
