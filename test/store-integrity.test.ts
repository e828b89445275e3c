// The index only points into the store: a deleted or damaged object is a miss and is
// recomputed, never a crash; `linea verify` reports damage.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
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

  it("a run record whose copy of the manifest was edited is not believed: the object's own manifest is read, and the copy restored", async () => {
    const { key, digest } = (await project.json<{ runs: { key: string; digest: string }[] }>(['log', 'double']))
      .runs[0]!;
    const entry = join(
      project.cacheDir,
      'index',
      'run',
      `${createHash('sha256').update(`run/${key}`).digest('hex')}.json`,
    );
    type Entry = { value: { manifest: { manifest: { value: unknown } } } };
    const original = JSON.parse(readFileSync(entry, 'utf8')) as Entry;
    const truth = JSON.parse(
      readFileSync(join(project.cacheDir, 'objects', digest.slice(0, 2), digest.slice(2), 'manifest.json'), 'utf8'),
    ) as { value: unknown };
    assert.deepEqual(original.value.manifest.manifest.value, truth.value, 'the record keeps a copy of the manifest');
    const edited = structuredClone(original);
    edited.value.manifest.manifest.value = { value: 12345 };
    writeFileSync(entry, JSON.stringify(edited));
    const run = await project.json<RunJson>(['run']);
    assert.ok(
      Object.values(statuses(run)).every((s) => s === 'cached'),
      JSON.stringify(statuses(run)),
    );
    assert.deepEqual(project.takeExecutions(), []);
    const restored = JSON.parse(readFileSync(entry, 'utf8')) as Entry;
    assert.deepEqual(restored.value.manifest.manifest.value, truth.value);
  });

  /** Overwrite a file in place with the same number of bytes and put its mtime back. */
  const corruptInPlace = (file: string) => {
    const before = statSync(file);
    const text = readFileSync(file);
    // touch -r copies timestamps to the nanosecond, as an outside tool restoring mtime would.
    const reference = `${file}.times`;
    execFileSync('touch', ['-r', file, reference]);
    chmodSync(file, 0o644);
    writeFileSync(file, Buffer.from(text.map((b) => (b === 0x30 ? 0x39 : b === 0x39 ? 0x30 : b ^ 1))));
    execFileSync('touch', ['-r', reference, file]);
    rmSync(reference);
    assert.equal(statSync(file).size, before.size);
    assert.equal(statSync(file).mtimeMs, before.mtimeMs);
  };

  it('a file corrupted in place (same size, mtime kept) is taken out by verify and recomputed by the next run', async () => {
    const dir = await objectOf('source');
    corruptInPlace(join(dir, 'files', 'numbers.txt'));
    // The stamp matches, so a plain run trusts the file; verify hashes everything.
    const verify = await project.linea(['verify']);
    assert.equal(verify.code, 1);
    assert.match(
      verify.stdout,
      /corrupted file numbers\.txt \(sha256 [0-9a-f]{12}… expected, [0-9a-f]{12}… found\); moved to .*quarantine/,
    );
    const status = await project.json<StatusJson>(['status']);
    assert.equal(status.stages.find((s) => s.id === 'source')!.state, 'stale');
    const run = await project.json<RunJson>(['run']);
    assert.equal(statuses(run).source, 'ran');
    assert.deepEqual(project.takeExecutions(), ['source']);
    assert.equal((await project.linea(['verify'])).code, 0);
  });

  it('run --verify-inputs hashes cached results and recomputes one corrupted in place', async () => {
    const dir = await objectOf('source');
    corruptInPlace(join(dir, 'files', 'numbers.txt'));
    const trusting = await project.json<RunJson>(['run']);
    assert.equal(statuses(trusting).source, 'cached', 'without the flag the stamp is trusted');
    const result = await project.linea(['run', '--verify-inputs', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(statuses(JSON.parse(result.stdout) as RunJson).source, 'ran');
    // It says why, as status would: which file, the digest expected and the one found.
    assert.match(
      result.stderr,
      /source.*cached result [0-9a-f]{12} has a corrupted file numbers\.txt \(sha256 [0-9a-f]{12}… expected, [0-9a-f]{12}… found\); recomputing it/,
    );
    assert.deepEqual(project.takeExecutions(), ['source']);
  });

  it('a touched but intact file is re-hashed once, then its stamp is refreshed', async () => {
    const digest = (
      await project.json<{ runs: { digest: string; stamp: Record<string, [number, number]> }[] }>(['log', 'source'])
    ).runs[0]!;
    const file = join(
      project.cacheDir,
      'objects',
      digest.digest.slice(0, 2),
      digest.digest.slice(2),
      'files',
      'numbers.txt',
    );
    const later = new Date(Date.now() + 5_000);
    utimesSync(file, later, later);
    await project.json<RunJson>(['run']);
    const after = (await project.json<{ runs: { stamp: Record<string, [number, number]> }[] }>(['log', 'source']))
      .runs[0]!;
    assert.equal(after.stamp['numbers.txt']![1], statSync(file).mtimeMs, 'the stamp now has the new mtime');
    assert.deepEqual(project.takeExecutions(), []);
  });

  it('leaves no workspace behind after runs', async () => {
    assert.deepEqual(readdirSync(join(project.cacheDir, 'tmp')), []);
  });
});
