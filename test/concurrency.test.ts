// Two `linea run`s on one store: each key is computed once, both succeed, the store stays valid.
// And --jobs N runs independent stages in parallel worker processes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeProject, parseExecution, statuses, type Project, type RunJson } from './helpers/project.ts';

describe('concurrent runs on one store', () => {
  const projects: Project[] = [];
  after(() => {
    for (const p of projects) p.remove();
  });

  it('two processes compute every key exactly once and both finish', async () => {
    const project = makeProject();
    projects.push(project);
    const slowly = [
      '--set',
      'source.delayMs=400',
      '--set',
      'double.delayMs=300',
      '--set',
      'square.delayMs=300',
      '--json',
    ];
    const [a, b] = await Promise.all([project.spawn(['run', ...slowly]), project.spawn(['run', ...slowly])]);
    assert.equal(a.exitCode, 0, String(a.stderr));
    assert.equal(b.exitCode, 0, String(b.stderr));
    const runA = JSON.parse(String(a.stdout)) as RunJson;
    const runB = JSON.parse(String(b.stdout)) as RunJson;
    const ran = project.takeExecutions();
    assert.deepEqual(ran, ['double', 'slow', 'source', 'square', 'sum'], 'one execution per key across both processes');
    for (const id of ['source', 'double', 'square', 'sum', 'slow']) {
      const pair = [statuses(runA)[id], statuses(runB)[id]].sort();
      assert.deepEqual(pair, ['cached', 'ran'], `${id}: one process ran it, the other took its result`);
    }
    assert.deepEqual(
      runA.stages.map((s) => s.key),
      runB.stages.map((s) => s.key),
    );
    const verify = await project.linea(['verify']);
    assert.equal(verify.code, 0, verify.stdout);
  });

  it('--jobs 2 runs independent stages at the same time in worker processes', async () => {
    const project = makeProject();
    projects.push(project);
    // double and square each wait for the other to have started: they can only meet if they run in parallel.
    const meetIn = mkdtempSync(join(tmpdir(), 'linea-meet-'));
    const run = await project.json<RunJson>([
      'run',
      '--jobs',
      '2',
      '--only',
      'sum',
      '--set',
      `double.meetIn=${meetIn}`,
      '--set',
      `square.meetIn=${meetIn}`,
    ]);
    rmSync(meetIn, { recursive: true, force: true });
    assert.ok(run.stages.every((s) => s.status === 'ran'));
    const log = project.executions().map(parseExecution);
    const met = (id: string) => log.find((e) => e.instance === id && (e.note === 'met' || e.note === 'alone'));
    assert.equal(met('double')?.note, 'met');
    assert.equal(met('square')?.note, 'met');
    assert.notEqual(met('double')!.pid, met('square')!.pid, 'in different worker processes');
  });
});
