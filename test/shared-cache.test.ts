// Two projects sharing one cache directory ($LINEA_CACHE_DIR in a shell profile): each sees its
// own runs. gc in one never deletes the other's results (unless --all-projects), "why stale"
// compares within the project, and log lists the project's own runs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeProject, type Project, type RunJson, type StatusJson } from './helpers/project.ts';

describe('a cache shared by two projects', () => {
  let a: Project;
  let b: Project;
  let cache: string;
  let env: Record<string, string>;
  before(async () => {
    cache = mkdtempSync(join(tmpdir(), 'linea-shared-cache-'));
    env = { LINEA_CACHE_DIR: cache };
    a = makeProject();
    b = makeProject();
    // B's source writes something else, so its results are its own objects.
    b.edit('stages/source.ts', (text) => text.replace(".join('\\n')", ".join(',')"));
    await a.json<RunJson>(['run'], env);
    await b.json<RunJson>(['run'], env);
    a.takeExecutions();
    b.takeExecutions();
  });
  after(() => {
    a.remove();
    b.remove();
    rmSync(cache, { recursive: true, force: true });
  });

  it("status in one project does not compare with the other project's runs", async () => {
    const status = await a.json<StatusJson>(['status'], env);
    assert.ok(
      status.stages.every((s) => s.state === 'cached'),
      JSON.stringify(status.stages.map((s) => [s.id, s.state, s.reasons])),
    );
    await a.json<RunJson>(['run', '--set', 'source.n=4'], env);
    const after = await b.json<StatusJson>(['status', '--set', 'source.n=4'], env);
    const source = after.stages.find((s) => s.id === 'source')!;
    assert.equal(source.state, 'stale');
    assert.ok(
      source.reasons.every((r) => !/stages\/source\.ts changed/.test(r.message)),
      JSON.stringify(source.reasons),
    );
  });

  it("log lists only the project's own runs", async () => {
    const log = await a.json<{ runs: { project?: string }[] }>(['log', 'source'], env);
    assert.ok(log.runs.length >= 1);
    assert.ok(
      log.runs.every((r) => r.project?.endsWith(`@${a.dir}`)),
      JSON.stringify(log.runs.map((r) => r.project)),
    );
  });

  it("a lost index does not make gc in one project evict the other's results", async () => {
    rmSync(join(cache, 'index'), { recursive: true, force: true });
    await a.json<RunJson>(['run'], env);
    await a.json(['gc', '--grace', '0'], env);
    b.takeExecutions();
    await b.json<RunJson>(['run'], env);
    assert.deepEqual(b.takeExecutions(), [], "B's results were evicted");
  });

  it("gc in one project keeps the other's results; --all-projects does not", async () => {
    await a.json(['gc', '--grace', '0'], env);
    b.takeExecutions();
    await b.json<RunJson>(['run'], env);
    assert.deepEqual(b.takeExecutions(), [], 'B computes nothing again');
    await a.json(['gc', '--grace', '0', '--all-projects'], env);
    await b.json<RunJson>(['run'], env);
    assert.ok(b.takeExecutions().includes('source'), "with --all-projects, B's results were collected");
  });
});
