// gc and publishing beside runs in progress on one store: gc never removes what a running run
// reads or has just made (so nothing is computed twice), and concurrent runs publishing to one
// --out all succeed, leave one whole copy and no temporary directories.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Store } from '../src/engine/store/store.ts';
import { makeProject, parseExecution, type Project } from './helpers/project.ts';

interface GcJson {
  evicted: unknown[];
  spared: number;
}

describe('gc beside a run in progress', () => {
  let project: Project;
  before(() => {
    project = makeProject();
  });
  after(() => project.remove());

  it('spares the inputs a running stage was given, so the next run executes nothing again', async () => {
    // source[n=7] is outside gc's plan (the default selection has n = 3): only the run uses it.
    const args = ['run', '--only', 'slow', '--set', 'source.n=7', '--set', 'slow.steps=10', '--set', 'slow.stepMs=300'];
    const run = project.spawn(args);
    // Wait until slow has started: source[n=7] is committed and slow is reading it.
    for (let i = 0; i < 300 && !project.executions().some((l) => parseExecution(l).instance === 'slow'); i++)
      await new Promise((r) => setTimeout(r, 100));
    const gc = await project.json<GcJson>(['gc', '--grace', '0']);
    assert.ok(gc.spared >= 1, `gc spared ${gc.spared} objects`);
    const result = await run;
    assert.equal(result.exitCode, 0, String(result.stderr));
    project.takeExecutions();
    const again = await project.linea(args);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(project.takeExecutions(), [], 'nothing computed twice');
  });

  it('spares results made within the grace period even after their run ended', async () => {
    const args = ['run', '--only', 'source', '--set', 'source.n=8'];
    assert.equal((await project.linea(args)).code, 0);
    const gc = await project.json<GcJson>(['gc']);
    assert.ok(gc.spared >= 1);
    project.takeExecutions();
    await project.linea(args);
    assert.deepEqual(project.takeExecutions(), []);
    // Past the grace period (0 here) the result is evicted like any other.
    await project.json<GcJson>(['gc', '--grace', '0']);
    await project.linea(args);
    assert.deepEqual(project.takeExecutions(), ['source']);
  });
});

describe('a commit beside gc', () => {
  it('names the object as in use before the object appears in the store', async () => {
    // gc lists objects, then reads the in-use records: an object published before its run named
    // it could be listed and found unused in between, and taken with --grace 0 (issue 33, item 4).
    const root = mkdtempSync(join(tmpdir(), 'linea-commit-order-'));
    try {
      const store = new Store(root);
      await store.init();
      const workspace = await store.newWorkspace();
      writeFileSync(join(workspace.outDir, 'result.txt'), 'x');
      const seen: { digest: string; publishedYet: boolean }[] = [];
      const { digest } = await store.commit(workspace, { n: 1 }, async (d) => {
        seen.push({ digest: d, publishedYet: existsSync(store.objectDir(d)) });
      });
      assert.deepEqual(seen, [{ digest, publishedYet: false }]);
      assert.ok(existsSync(store.objectDir(digest)));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('concurrent publishing', () => {
  let project: Project;
  before(() => {
    project = makeProject();
  });
  after(() => project.remove());

  it('8 runs publishing to one --out all succeed, and leave one whole copy and no temporary directories', async () => {
    const out = join(project.dir, 'out', 'D');
    const args = ['run', '--pipeline', 'publish.pipeline.ts', '--json', '--out', out];
    assert.equal((await project.linea(args)).code, 0);
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(Array.from({ length: 8 }, () => project.linea(args)));
      for (const r of results) {
        assert.equal(r.code, 0, r.stderr);
        const json = JSON.parse(r.stdout) as { stages: { status: string }[]; published: { dir: string }[] };
        assert.ok(json.stages.every((s) => s.status === 'cached'));
        assert.deepEqual(
          json.published.map((p) => p.dir),
          [out],
        );
      }
      assert.deepEqual(readdirSync(dirname(out)), [basename(out)], 'no temporary directories left');
      const files = readdirSync(out).sort();
      assert.equal(files.length, 20);
      for (const f of files) assert.match(readFileSync(join(out, f), 'utf8'), /of 3\n/);
    }
  });
});
