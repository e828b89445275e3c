// Damaged and foreign leases never hang a run: an empty or non-JSON lease file (what a power loss
// can leave) is treated as stale at once with one warning, and a run waiting on a live holder
// answers SIGTERM promptly instead of spinning.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeProject, type Project, type StatusJson } from './helpers/project.ts';

describe('damaged leases', () => {
  let project: Project;
  before(() => {
    project = makeProject();
  });
  after(() => project.remove());

  const sourceKey = async () => {
    const status = await project.json<StatusJson>(['status']);
    return status.stages.find((s) => s.id === 'source')!.key!;
  };

  for (const [what, content] of [
    ['empty', ''],
    ['truncated', '{"host":"x","pid":12'],
    ['not a lease', '[1,2,3]'],
  ] as const) {
    it(`an ${what} lease file is taken over with one warning, and the run finishes`, async () => {
      rmSync(project.cacheDir, { recursive: true, force: true });
      const key = await sourceKey();
      mkdirSync(join(project.cacheDir, 'leases'), { recursive: true });
      writeFileSync(join(project.cacheDir, 'leases', `${key}.lease`), content);
      const run = await project.spawn(['run', '--only', 'source']);
      assert.equal(run.exitCode, 0, String(run.stderr));
      const warnings = String(run.stderr)
        .split('\n')
        .filter((l) => l.includes('is damaged'));
      assert.equal(warnings.length, 1, String(run.stderr));
      assert.match(warnings[0]!, new RegExp(`${key}\\.lease`));
      // And it was computed, not skipped.
      assert.equal(
        (await project.json<StatusJson>(['status', '--only', 'source'])).stages.find((s) => s.id === 'source')!.state,
        'cached',
      );
    });
  }

  it('a run waiting on a live holder exits on SIGTERM instead of hanging', async () => {
    rmSync(project.cacheDir, { recursive: true, force: true });
    const key = await sourceKey();
    mkdirSync(join(project.cacheDir, 'leases'), { recursive: true });
    // This test process is alive on this host: its lease is respected, so the run must wait.
    writeFileSync(
      join(project.cacheDir, 'leases', `${key}.lease`),
      JSON.stringify({ host: hostname(), pid: process.pid, nonce: 'live', acquiredAt: new Date().toISOString() }),
    );
    const run = project.spawn(['run', '--only', 'source']);
    // Wait until it says it is waiting, then interrupt it.
    await new Promise<void>((resolve) => {
      run.stderr!.on('data', (chunk: Buffer) => {
        if (/waiting for its result/.test(chunk.toString())) resolve();
      });
    });
    run.kill('SIGTERM');
    const result = await Promise.race([
      run,
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 30_000).unref()),
    ]);
    assert.notEqual(result, 'hung', 'linea run did not exit after SIGTERM');
    if (result !== 'hung') assert.notEqual(result.exitCode, 0);
  });

  it('after SIGINT, stages waiting for a slot are not started', async () => {
    rmSync(project.cacheDir, { recursive: true, force: true });
    project.takeExecutions();
    const run = project.spawn(['run', '--pipeline', 'queue.pipeline.ts']);
    for (let i = 0; i < 300 && project.executions().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    run.kill('SIGINT');
    const result = await run;
    assert.notEqual(result.exitCode, 0);
    assert.equal(project.takeExecutions().length, 1, 'only the stage already running when the interrupt came');
  });
});
