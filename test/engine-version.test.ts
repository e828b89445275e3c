// An engine change does not invalidate results: a stage's code digest stops at the engine (as it
// stops at the installed linea-engine package), and ENGINE_VERSION is the engine's only part in a
// key. The second test is the reminder that keeps that honest: when the files that decide what a
// stage computes or how its result is stored change, it fails until someone decides whether the
// change needs a new ENGINE_VERSION (every result recomputed) or not (the pinned digest updated).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { digestCode, normalisedFileDigest } from '../src/engine/key/code.ts';
import { ENGINE_VERSION } from '../src/engine/key/fingerprint.ts';

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
const PINNED = { engineVersion: '2', digest: '4dd16e2e96ecf6b9' };

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
});
